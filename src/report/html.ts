import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Figure } from './figures.js';
import { escapeHtml } from './html-escape.js';

const require = createRequire(import.meta.url);
let bundle: string | undefined;

/** The minified plotly.js bundle from the npm package, read once. */
export function plotlyBundle(): string {
  bundle ??= readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  return bundle;
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A <script> that defines window.Plotly, once per page. */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript">/* plotly.js, inlined for offline use */\n${plotlyBundle().replace(/<\/script/gi, '<\\/script')}\n</script>`;
}

/**
 * A figure as a div, its JSON in a data block, and a script that draws it once Plotly is
 * defined. The wait lets a figure come before the bundle on the page, as happens when
 * notebook outputs render; the data block lets tools read the figure without a browser.
 * The script finds its figure as its own previous siblings, not by id: a notebook front end
 * may render an output more than once, and ids then repeat.
 * In a page still being parsed (an exported notebook) the figure waits for the whole
 * document, since a flex row's later figures would otherwise narrow it after it is drawn;
 * and it follows its own box, which changes without a window resize (Plotly's
 * `responsive` only listens to the window, and skips figures hidden at that moment).
 */
export function figureHtml(figure: Figure, id: string): string {
  return `<div id="${id}" class="bn-figure" style="width:100%;min-height:${Number(figure.layout['height'] ?? 420)}px"></div>
<script type="application/json" class="bn-figure-data" id="${id}-data">${scriptJson(figure)}</script>
<script type="text/javascript">(function () {
  var script = document.currentScript;
  var data = script && script.previousElementSibling;
  var el = data && data.previousElementSibling;
  // A front end that re-inserts scripts elsewhere leaves other neighbours: draw nothing then.
  if (!el || !data || !data.classList.contains('bn-figure-data') || !el.classList.contains('bn-figure')) return;
  function draw(tries) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', function () { draw(tries); });
      return;
    }
    if (!window.Plotly) {
      if (tries < 600) setTimeout(function () { draw(tries + 1); }, 50);
      else el.textContent = 'plotly.js did not load, so this figure cannot be drawn.';
      return;
    }
    var figure = JSON.parse(data.textContent);
    window.Plotly.react(el, figure.data, figure.layout, {responsive: true, displaylogo: false});
    if (!window.ResizeObserver) return;
    // Redrawn at once at its box's width: Plotly's own resize is deferred, and gives up on a
    // figure that is hidden at that moment, as notebook front ends hide cells while they lay out.
    // Kept while the figure is detached: windowed notebooks take cells out and put them back.
    var observer = new ResizeObserver(function () {
      if (!el.isConnected) return;
      var width = Math.round(el.getBoundingClientRect().width);
      if (width > 0 && el._fullLayout && Math.abs(width - el._fullLayout.width) > 1) window.Plotly.relayout(el, {width: width});
    });
    observer.observe(el);
  }
  draw(0);
})();</script>`;
}

export { escapeHtml };

/** A self-contained page: the bundle inlined once, then the given body (figures and text). */
export function standalonePage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
</style>
${plotlyScriptTag()}
</head>
<body>
${body}
</body>
</html>
`;
}
