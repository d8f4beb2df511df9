/**
 * plotly.js as one inline `<script>`, for the lib's figures in a notebook and for the lessons report's pages:
 * nothing is fetched at render time. The file is read from node_modules (plotly.js-dist-min) the first time
 * it is asked for; it is data here, not a module this folder loads.
 * @module
 */
import * as fs from 'fs';

let plotlyTag: string | undefined;

/**
 * `<script>` with plotly.js, guarded by `if (!window.Plotly)` so a page that already has it skips it. The
 * bundle has no AMD branch (it sets window.Plotly even on require.js pages such as nbconvert's); `<` in
 * `</script`, `<!--`, `<script` is written `\x3C`, which means the same inside the JS strings and regexes where
 * these occur and cannot end the HTML script element.
 */
export function plotlyScriptTag(): string {
  if (plotlyTag === undefined) {
    const file = require.resolve('plotly.js-dist-min/plotly.min.js');
    const version = (JSON.parse(fs.readFileSync(require.resolve('plotly.js-dist-min/package.json'), 'utf8')) as { version: string }).version;
    const js = fs.readFileSync(file, 'utf8').replace(/<(\/script|!--|script)/gi, '\\x3C$1');
    plotlyTag = `<script>/* plotly.js ${version}, inlined by d2l-ts */\nif (!window.Plotly) {\n${js}\n}</script>`;
  }
  return plotlyTag;
}
