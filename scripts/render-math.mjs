#!/usr/bin/env node
// LaTeX to MathML for the HTML exports, so that math renders with no MathJax and no network.
// Reads a JSON array of {"tex": "...", "display": true|false} on stdin and writes a JSON array
// of MathML strings, in the same order. A formula temml cannot parse fails the whole call,
// with the formula named.
import temml from 'temml';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const formulas = JSON.parse(input);
const rendered = formulas.map(({ tex, display }) => {
  try {
    return temml.renderToString(tex, { displayMode: display, throwOnError: true });
  } catch (error) {
    // One line: a display formula can span several, and the runner keeps only the first.
    console.error(`cannot render $${tex.replace(/\s+/g, ' ')}$: ${error.message.split('\n')[0]}`);
    process.exit(1);
  }
});
process.stdout.write(JSON.stringify(rendered));
