#!/usr/bin/env node
// Prettier for the notebooks' code cells, which prettier itself cannot read inside .ipynb.
//   node scripts/format-notebooks.mjs --check   lists unformatted cells, exits 1 if any
//   node scripts/format-notebooks.mjs --write   formats them in place (outputs untouched)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];
if (mode !== '--check' && mode !== '--write') {
  console.error('usage: node scripts/format-notebooks.mjs --check|--write');
  process.exit(2);
}
const dir = join(root, 'notebooks');
const options = {
  ...(await prettier.resolveConfig(join(root, 'src', 'index.ts'))),
  parser: 'typescript',
};
let unformatted = 0;
for (const name of readdirSync(dir)
  .filter((f) => f.endsWith('.ipynb'))
  .sort()) {
  const path = join(dir, name);
  const raw = readFileSync(path, 'utf8');
  const notebook = JSON.parse(raw);
  let changed = false;
  let index = 0; // code cells counted from 1, as the notebook runner names them
  for (const cell of notebook.cells) {
    if (cell.cell_type !== 'code') continue;
    index++;
    const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    let formatted;
    try {
      formatted = (await prettier.format(source, options)).replace(/\n$/, '');
    } catch (error) {
      console.error(`${name}: code cell ${index}: ${error.message.split('\n')[0]}`);
      process.exit(1);
    }
    if (formatted === source) continue;
    unformatted++;
    if (mode === '--check') console.error(`${name}: code cell ${index} is not formatted`);
    cell.source = formatted.split(/(?<=\n)/);
    changed = true;
  }
  // Same layout as Jupyter writes: one-space indent, a final newline.
  if (changed && mode === '--write') writeFileSync(path, `${JSON.stringify(notebook, null, 1)}\n`);
}
if (mode === '--check' && unformatted > 0) {
  console.error(`${unformatted} notebook cell(s) need formatting: run npm run format`);
  process.exit(1);
}
