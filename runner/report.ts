/**
 * The HTML report of `d2l-ts lessons`: out/<name>.html, one page per executed notebook with its outputs, and
 * out/index.html, a summary table (notebook, time, checked values vs bands, pass/fail) plus one section per
 * notebook with every check and the page embedded.
 *
 * Pages are rendered by nbconvert (`jupyter nbconvert --to html`, lab template) when `jupyter` with nbconvert
 * is on PATH or in the checkout's .venv; otherwise by the small built-in renderer below: markdown (with math as
 * MathML, runner/markdown.ts), code, text/html, images (png, jpeg, svg), text/plain, streams and errors.
 * Plots: lib figures carry `application/vnd.plotly.v1+json` and a text/html fallback. For the report both
 * renderers draw the JSON figure with plotly.js inlined once per page (common/plotly.ts: offline,
 * self-contained), in the first plot's output; the text/html fallback of plot outputs is not used there.
 * @module
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { escapeHtml } from '../common/html';
import { plotlyScriptTag } from '../common/plotly';
import { fmtNum, type NotebookCheck, type ValueCheck } from './golden-check';
import { renderMarkdown } from './markdown';
import { codeCells, plotlyFigure, PLOTLY_MIME, text, writeNotebook, type Notebook } from './notebook';
import { COURSE } from './course';
import { ROOT } from './paths';
import { fmt } from './progress';

const esc = (s: unknown) => escapeHtml(String(s));
const stripAnsi = (s: unknown) => String(s).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** HTML that draws one plotly figure (plotly itself is inlined once per page). */
export function plotHtml(fig: ReturnType<typeof plotlyFigure>, id: string): string {
  const f = { data: fig.data ?? [], layout: fig.layout ?? {}, config: { responsive: true, ...(fig.config ?? {}) } };
  return `<div id="${id}" class="d2l-plot" style="min-height:${Number(f.layout.height) || 360}px"></div>\n` +
    `<script>(function () { var f = ${scriptJson(f)}; var el = document.getElementById(${JSON.stringify(id)});\n` +
    `  if (window.Plotly) Plotly.newPlot(el, f.data, f.layout, f.config); else el.textContent = 'plotly.js did not load'; })();</script>`;
}

/**
 * A copy of an executed notebook prepared for rendering: plot outputs become text/html that draws the figure,
 * and the first one also carries plotly.js (nbconvert's lab template passes output HTML through unchanged but
 * sanitizes raw cells, so the library cannot go into a cell of its own).
 */
export function prepareForRender(nb: Notebook, prefix: string): { nb: Notebook; plots: number } {
  const copy: Notebook = JSON.parse(JSON.stringify(nb));
  let plots = 0;
  for (const { cell } of codeCells(copy)) {
    for (const o of cell.outputs ?? []) {
      if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && o.data?.[PLOTLY_MIME]) {
        const html = plotHtml(plotlyFigure(o.data), `${prefix}-plot-${++plots}`);
        o.data = { 'text/html': plots === 1 ? `${plotlyScriptTag()}\n${html}` : html, 'text/plain': text(o.data['text/plain']) || 'plot' };
        o.metadata = {};
      }
    }
  }
  return { nb: copy, plots };
}

/** `jupyter` with nbconvert: PATH first, then the checkout's .venv. */
export function findNbconvert(): { cmd: string; version: string } | null {
  const candidates = ['jupyter', path.join(ROOT, '.venv', 'bin', 'jupyter')];
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ['nbconvert', '--version'], { encoding: 'utf8', timeout: 60000 });
    if (r.status === 0) return { cmd, version: r.stdout.trim() };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Built-in renderer

const PAGE_CSS = `
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 1.5em auto; padding: 0 1em; color: #222; }
.note { background: #fff8e1; border: 1px solid #f0d78c; padding: .4em .8em; font-size: 13px; }
.cell { display: grid; grid-template-columns: 5.5em 1fr; gap: 0 .5em; margin: .6em 0; }
.prompt { color: #307fc1; font: 13px monospace; text-align: right; padding-top: .5em; }
.prompt.out { color: #bf5b3d; }
pre { margin: 0; padding: .4em .6em; overflow-x: auto; font: 13px/1.35 monospace; white-space: pre-wrap; }
pre.src { background: #f5f5f5; border: 1px solid #e0e0e0; border-radius: 2px; }
pre.stderr { background: #fdd; }
pre.error { background: #fdd; color: #900; }
.md { grid-column: 2; }
.md p, .md ul, .md ol { margin: .4em 0; }
.md code { font: 13px monospace; background: #f3f3f3; padding: 0 .2em; border-radius: 2px; }
.md pre { background: #f5f5f5; }
.md pre code { background: none; padding: 0; }
.md table { border-collapse: collapse; }
.md td, .md th { border: 1px solid #ddd; padding: 2px 8px; }
.md math { font-family: math; }
.md math[display="block"] { margin: .5em 0; overflow-x: auto; }
.output { grid-column: 2; overflow-x: auto; }
.output table { border-collapse: collapse; font: 12px monospace; }
.output td, .output th { border: 1px solid #ddd; padding: 1px 5px; text-align: right; }
`;

function renderOutput(o: any): string {
  if (o.output_type === 'stream') return `<pre class="stream ${esc(o.name)}">${esc(stripAnsi(text(o.text)))}</pre>`;
  if (o.output_type === 'error') {
    const tb = (o.traceback ?? []).map(stripAnsi).join('\n');
    return `<pre class="error">${esc(tb || `${o.ename}: ${o.evalue}`)}</pre>`;
  }
  const d = o.data ?? {};
  if (d['text/html'] !== undefined) return `<div>${text(d['text/html'])}</div>`;
  for (const m of ['image/png', 'image/jpeg']) if (d[m] !== undefined) return `<img src="data:${m};base64,${esc(text(d[m]).replace(/\s/g, ''))}">`;
  if (d['image/svg+xml'] !== undefined) return `<div>${text(d['image/svg+xml'])}</div>`;
  if (d['text/plain'] !== undefined) return `<pre>${esc(stripAnsi(text(d['text/plain'])))}</pre>`;
  return `<pre>[${esc(Object.keys(d).join(', '))}]</pre>`;
}

/** A minimal self-contained page for a notebook prepared by prepareForRender. */
export function renderBuiltin(nb: Notebook, title: string): string {
  const parts: string[] = [];
  for (const cell of nb.cells) {
    if (cell.cell_type === 'raw') continue;
    if (cell.cell_type === 'markdown') {
      parts.push(`<div class="cell"><div></div><div class="md">${renderMarkdown(text(cell.source))}</div></div>`);
      continue;
    }
    const n = cell.execution_count ?? ' ';
    parts.push(`<div class="cell"><div class="prompt">In [${n}]:</div><pre class="src">${esc(text(cell.source))}</pre>`);
    for (const o of cell.outputs ?? []) {
      const out = o.output_type === 'execute_result' ? `Out[${o.execution_count ?? ' '}]:` : '';
      parts.push(`<div class="prompt out">${out}</div><div class="output">${renderOutput(o)}</div>`);
    }
    parts.push('</div>');
  }
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${PAGE_CSS}</style></head>\n<body>\n` +
    `<p class="note">Rendered by the lessons runner's built-in renderer (nbconvert was not found).</p>\n` +
    parts.join('\n') + '\n</body></html>\n';
}

/** A notebook of this run to render: out/<name>.html. */
export interface PageEntry {
  name: string;
  nb: Notebook;
}

/**
 * Writes out/<name>.html for each entry. renderer: 'auto' | 'nbconvert' | 'builtin'.
 * Returns which renderer drew the pages (`nbconvert <version>` or `builtin`), the names the built-in renderer
 * drew after nbconvert failed on them, and nbconvert's output.
 */
export function renderPages(entries: PageEntry[], outDir: string, renderer = 'auto'): { renderer: string; failed: string[]; log: string } {
  const nbc = renderer === 'builtin' ? null : findNbconvert();
  if (renderer === 'nbconvert' && !nbc) throw new Error('--report nbconvert: jupyter nbconvert was not found (PATH or .venv/bin)');
  const prepared = entries.map((e) => ({ ...e, render: prepareForRender(e.nb, e.name.replace(/[^A-Za-z0-9_-]/g, '_')).nb }));
  const fallback: typeof prepared = [];
  let log = '';
  if (nbc) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2l-report-'));
    try {
      const files = prepared.map((e) => {
        const f = path.join(tmp, `${e.name}.ipynb`);
        writeNotebook(f, e.render);
        fs.rmSync(path.join(outDir, `${e.name}.html`), { force: true });
        return f;
      });
      const r = spawnSync(nbc.cmd, ['nbconvert', '--to', 'html', '--output-dir', outDir, ...files], { encoding: 'utf8', timeout: 600000 });
      log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      for (const e of prepared) if (!fs.existsSync(path.join(outDir, `${e.name}.html`))) fallback.push(e);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  for (const e of nbc ? fallback : prepared) {
    fs.writeFileSync(path.join(outDir, `${e.name}.html`), renderBuiltin(e.render, e.name));
  }
  return { renderer: nbc ? `nbconvert ${nbc.version}` : 'builtin', failed: fallback.map((e) => e.name), log };
}

// ---------------------------------------------------------------------------------------------------------
// index.html

const INDEX_CSS = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
.pass { color: #176f2c; font-weight: 600; }
.fail { color: #b00020; font-weight: 600; }
tr.failrow { background: #fff3f3; }
code, .mono { font: 13px monospace; }
section.notebook { border-top: 2px solid #ccc; margin-top: 2em; }
iframe { width: 100%; height: 80vh; border: 1px solid #ccc; }
.muted { color: #777; }
`;

function checkCell(checks: ValueCheck[]): string {
  if (!checks.length) return '<span class="muted">—</span>';
  return checks.map((c) => {
    const v = c.value === undefined ? 'missing' : fmtNum(c.value);
    return `<span class="${c.ok ? 'pass' : 'fail'}">${c.ok ? '✓' : '✗'}</span> <code>${esc(c.name)} = ${esc(v)}</code> <span class="muted">${esc(c.band || c.detail || '')}</span>`;
  }).join('<br>');
}

/** One notebook's latest result, as out/lessons.json keeps it. */
export interface IndexEntry {
  name: string;
  ms?: number;
  ok: boolean;
  error?: string;
  check?: NotebookCheck;
  /** Page and executed notebook, file names in the out dir. */
  html: string;
  ipynb: string;
  ranAt?: string;
  schedule?: string;
}

/**
 * The course map (./course): every lecture 00–23 with its book sections and where it lives here; a lecture whose
 * notebook ran into this out dir links to its section and shows the time it took.
 */
function courseMap(entries: IndexEntry[]): string {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const rows = COURSE.map((l) => {
    const e = l.notebook ? byName.get(l.notebook) : undefined;
    const here = l.notebook
      ? (e ? `<a href="#nb-${esc(e.name)}">${esc(l.notebook)}</a> <span class="${e.ok ? 'pass' : 'fail'}">${e.ok ? 'pass' : 'FAIL'}</span>`
        : `<code>notebooks/${esc(l.notebook)}.ipynb</code> <span class="muted">(not run into this folder)</span>`)
      : `<span class="muted">${esc(l.note ?? '')}</span>`;
    const time = e?.ms !== undefined ? `${esc(fmt(e.ms))}${e.schedule && e.schedule !== 'full' ? ` (${esc(e.schedule)})` : ''}` : '—';
    return `<tr><td>${l.n}</td><td>${esc(l.title)}</td><td class="mono">${l.book.map(esc).join('<br>') || '—'}</td><td>${here}</td><td class="num">${time}</td></tr>`;
  });
  return `<details><summary>Course map: lectures 00–23, book sections, where each lives here</summary>\n<table class="course">\n` +
    `<thead><tr><th>#</th><th>lecture</th><th>book sections (d2l-zh v2)</th><th>here</th><th>time</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></details>`;
}

/** Writes out/index.html; returns its path. */
export function writeIndex(entries: IndexEntry[], outDir: string, meta: { renderer?: string; started?: string; totalMs?: number } = {}): string {
  const passed = entries.filter((e) => e.ok).length;
  const rows = entries.map((e) => {
    const outs = e.check ? e.check.results.filter((r) => r.kind === 'output') : [];
    const outOk = outs.filter((r) => r.ok).length;
    return `<tr class="${e.ok ? '' : 'failrow'}"><td><a href="#nb-${esc(e.name)}">${esc(e.name)}</a></td>` +
      `<td class="num">${e.ms !== undefined ? esc(fmt(e.ms)) : '—'}</td><td>${esc(e.schedule ?? '')}</td>` +
      `<td>${checkCell(e.check?.checks ?? [])}</td>` +
      `<td class="num">${outs.length ? `${outOk}/${outs.length}` : '—'}</td>` +
      `<td class="${e.ok ? 'pass' : 'fail'}">${e.ok ? 'pass' : 'FAIL'}</td></tr>`;
  });
  const sections = entries.map((e) => {
    const results = e.check?.results ?? [];
    const rowsR = results.map((r) => `<tr class="${r.ok ? '' : 'failrow'}"><td class="${r.ok ? 'pass' : 'fail'}">${r.ok ? 'ok' : 'FAIL'}</td>` +
      `<td>${esc(r.what)}</td><td class="mono">${esc(r.where ?? '')}</td><td>${esc(r.detail ?? '')}</td></tr>`).join('\n');
    return `<section class="notebook" id="nb-${esc(e.name)}">\n<h2>${esc(e.name)} <span class="${e.ok ? 'pass' : 'fail'}">${e.ok ? 'pass' : 'FAIL'}</span></h2>\n` +
      `<p>${e.ms !== undefined ? `ran in ${esc(fmt(e.ms))}` : ''}${e.schedule ? `, schedule ${esc(e.schedule)}` : ''}${e.ranAt ? `, ${esc(e.ranAt)}` : ''}` +
      ` · <a href="${esc(e.html)}">page</a> · <a href="${esc(e.ipynb)}">executed notebook</a></p>\n` +
      (e.error ? `<p class="fail">${esc(e.error)}</p>\n` : '') +
      (rowsR ? `<details${e.ok ? '' : ' open'}><summary>${results.filter((r) => r.ok).length} of ${results.length} checks passed</summary>\n` +
        `<table class="checks"><thead><tr><th></th><th>check</th><th>cell</th><th>detail</th></tr></thead><tbody>\n${rowsR}\n</tbody></table></details>\n` : '') +
      `<iframe loading="lazy" src="${esc(e.html)}" title="${esc(e.name)}"></iframe>\n</section>`;
  });
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>d2l-ts lessons</title><style>${INDEX_CSS}</style></head>
<body>
<h1>d2l-ts lessons</h1>
<p>${passed} of ${entries.length} notebooks passed${meta.totalMs !== undefined ? ` · last run ${esc(fmt(meta.totalMs))}` : ''}${meta.started ? ` · ${esc(meta.started)}` : ''}${meta.renderer ? ` · pages rendered by ${esc(meta.renderer)}` : ''}</p>
<table class="summary">
<thead><tr><th>notebook</th><th>time</th><th>schedule</th><th>checked values vs bands</th><th>outputs</th><th>result</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
${courseMap(entries)}
${sections.join('\n')}
</body></html>
`;
  fs.writeFileSync(path.join(outDir, 'index.html'), html);
  return path.join(outDir, 'index.html');
}
