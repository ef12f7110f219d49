#!/usr/bin/env node
// Links this repository into node_modules as `batchnorm-ts`, so notebooks import the one
// shared src/ by package name (tslab cannot compile files outside the notebook folder).
import { lstatSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const link = join(root, 'node_modules', 'batchnorm-ts');
let current;
try {
  current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : 'not a link';
} catch {
  current = undefined;
}
if (current !== '..') {
  rmSync(link, { recursive: true, force: true });
  symlinkSync('..', link, 'dir');
}
