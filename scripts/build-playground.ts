// npm run playground: builds build/html/playground.html, one self-contained page that trains the
// guide's models in the reader's browser. It bundles src/playground/page.ts (and through it the
// project's trainer, model and batch norm) with esbuild, and inlines plotly.js, the
// TensorFlow.js wasm binaries and a sprite of MNIST digits: no CDN, no request.
// Options: --out PATH (default build/html/playground.html)  --train N --test N (digits carried)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { PNG } from 'pngjs';
import { IMAGE_SIZE } from '../src/data/mnist-format.js';
import { loadMnist, SMALL_SIZES } from '../src/data/mnist.js';
import type { EmbeddedDigits } from '../src/playground/digits.js';
import { plotlyBundle } from '../src/report/html.js';
import { writeAtomically } from '../src/runtime/files.js';

const MAX_BYTES = 10 * 1024 * 1024;
const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(2);
};
let args: { out?: string; train?: string; test?: string } = {};
try {
  args = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'build', 'html', 'playground.html') },
      train: { type: 'string', default: '4000' },
      test: { type: 'string', default: '1000' },
    },
  }).values;
} catch (error) {
  fail((error as Error).message.replace(/\s*\n\s*/g, ' '));
}
const counts = { train: Number(args.train), test: Number(args.test) };
for (const [name, value] of Object.entries(counts)) {
  const available = name === 'train' ? SMALL_SIZES.train : SMALL_SIZES.test;
  if (!Number.isInteger(value) || value < 1 || value > available) {
    fail(`--${name} must be a whole number from 1 to ${available}, got '${args[name as 'train']}'`);
  }
}

/** The first digits of the small source's seeded split, as a grayscale sprite and label bytes. */
function digitSprite(): EmbeddedDigits {
  const mnist = loadMnist('small', 0);
  const columns = 100;
  const total = counts.train + counts.test;
  const png = new PNG({
    width: columns * 28,
    height: Math.ceil(total / columns) * 28,
    colorType: 0,
    inputHasAlpha: false,
  });
  const gray = Buffer.alloc(png.width * png.height);
  const labels = Buffer.alloc(total);
  const sources = [
    ...Array.from({ length: counts.train }, (_, i) => [mnist.train, i] as const),
    ...Array.from({ length: counts.test }, (_, i) => [mnist.test, i] as const),
  ];
  sources.forEach(([split, index], slot) => {
    const [top, left] = [Math.floor(slot / columns) * 28, (slot % columns) * 28];
    for (let p = 0; p < IMAGE_SIZE; p++) {
      gray[(top + Math.floor(p / 28)) * png.width + left + (p % 28)] = Math.round(
        split.images[index * IMAGE_SIZE + p]! * 255,
      );
    }
    labels[slot] = split.labels[index]!;
  });
  png.data = gray;
  const bytes = PNG.sync.write(png, {
    colorType: 0,
    inputColorType: 0,
    inputHasAlpha: false,
    deflateLevel: 9,
  });
  return {
    png: `data:image/png;base64,${bytes.toString('base64')}`,
    labels: labels.toString('base64'),
    columns,
    ...counts,
  };
}

function wasmDataUrls(): Record<string, string> {
  const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const url = (file: string) =>
    `data:application/wasm;base64,${readFileSync(join(dir, 'dist', file)).toString('base64')}`;
  const simd = url('tfjs-backend-wasm-simd.wasm');
  // The threaded build needs cross-origin isolation, which a file: page never has; the SIMD
  // build stands in for it so that no path leads to a request.
  return {
    'tfjs-backend-wasm.wasm': url('tfjs-backend-wasm.wasm'),
    'tfjs-backend-wasm-simd.wasm': simd,
    'tfjs-backend-wasm-threaded-simd.wasm': simd,
  };
}

/** Inline <script> text: nothing in it may close the element early. */
const inlineScript = (code: string) => code.replace(/<\/(script)/gi, '<\\/$1');

const bundled = await build({
  entryPoints: [join(root, 'src', 'playground', 'page.ts')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  write: false,
  logLevel: 'error',
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [
    {
      // The graph step runs TensorFlow's session, which only Node has: the trainer loads it on
      // demand, and the page, whose backends cannot ask for it, leaves it out.
      name: 'node-only-graph-step',
      setup(esbuild) {
        esbuild.onResolve({ filter: /\/graph-step\.js$/ }, (args) => ({
          path: args.path,
          external: true,
        }));
      },
    },
  ],
});
const code = bundled.outputFiles[0]!.text;

const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Batch-norm playground</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 1.5em; color: #222; }
  h1 { font-size: 1.5em; margin-bottom: 0.2em; }
  .lead { color: #444; max-width: 60em; }
  .layout { display: grid; grid-template-columns: minmax(280px, 360px) 1fr; gap: 1.5em; align-items: start; }
  #controls label { display: block; font-weight: 600; margin-top: 0.8em; }
  #controls input[type=number] { width: 6em; }
  #controls input[type=range] { width: 12em; vertical-align: middle; }
  .why { font-size: 0.85em; color: #555; margin: 0.2em 0 0.4em; }
  .buttons { margin-top: 1em; }
  button { font-size: 1em; padding: 0.3em 1.2em; }
  #status, #deployedStatus { font-family: monospace; font-size: 0.9em; min-height: 1.4em; }
  h2 { font-size: 1.2em; margin-top: 1.5em; }
  .badge { font-family: monospace; background: #eef; padding: 0 0.4em; border-radius: 3px; }
  .figures { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5em; }
  @media (max-width: 900px) { .layout, .figures { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<h1>Batch-norm playground</h1>
<p class="lead">The guide's 784-100-100-10 network, trained here in your browser on ${counts.train.toLocaleString('en')} MNIST
digits and tested on ${counts.test.toLocaleString('en')} more, with the same TypeScript code as the notebooks. Change a
setting, press Start, and watch the test curves of the models without normalization, with batch
norm (or the normalization you choose) before the ReLU and after it. Backend: <span class="badge" id="backend">starting</span><span id="backendNote"></span>. <a href="index.html">The notebooks</a>.</p>
<div class="layout">
<div id="controls"></div>
<div>
<div id="status">Loading the digits...</div>
<div class="figures"><div id="accuracyFigure"></div><div id="lossFigure"></div></div>
<div id="results"></div>
</div>
</div>
<h2>A model deployed by notebook 06 or 08</h2>
<p class="lead">Notebook 06 folds batch norm into the dense layers and saves the network in
TensorFlow.js's LayersModel format, in <code>build/models/notebook-06-folded/</code>; notebook 08
folds it into a LeNet's convolutions, in <code>build/models/notebook-08-folded-lenet/</code>.
Choose a folder's <code>model.json</code> and <code>weights.bin</code> together to test it on the
test digits above (a page opened from disk cannot read files beside it unasked).
<input id="modelFiles" type="file" multiple accept=".json,.bin" disabled></p>
<div id="deployedStatus"></div>
<script>${inlineScript(plotlyBundle())}</script>
<script type="application/json" id="bn-digits">${JSON.stringify(digitSprite())}</script>
<script>window.BN_WASM = ${JSON.stringify(wasmDataUrls())};</script>
<script>${inlineScript(code)}</script>
</body>
</html>
`;
const bytes = Buffer.byteLength(page);
if (bytes > MAX_BYTES) {
  console.error(
    `error: the playground page is ${(bytes / 1048576).toFixed(1)} MiB, over the 10 MiB limit`,
  );
  process.exit(1);
}
await writeAtomically(args.out!, page);
console.log(
  `wrote ${relative(process.cwd(), args.out!)} (${(bytes / 1048576).toFixed(1)} MiB; script ${(code.length / 1048576).toFixed(2)} MiB)`,
);
