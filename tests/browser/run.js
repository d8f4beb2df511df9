#!/usr/bin/env node
'use strict';
/**
 * Real-browser checks of the lib's rich outputs (lib/display/plot.ts, animator.ts, images.ts) and of the lessons
 * report, run by .ci/run. The fixture tests/fixtures/display.ipynb (d2l-ts kernel: import, a 2-series log-scale
 * d2l.plot, a live Animator over 5 epochs, a d2l.showImages grid) goes through:
 *
 *   nbconvert   `jupyter nbconvert --to notebook --execute`, then `--to html` (nbconvert's default template,
 *               and once with its require.js/MathJax CDN URLs switched off); headless Chromium opens the HTML
 *               from file:// with every http(s) request blocked, and checks each plot was drawn by plotly.js
 *               (.main-svg, .scatterlayer .trace count, log axis), the Animator's final state and the image
 *               grid; plus a page whose plotly.js carrier comes after another figure (the wait-for-Plotly path).
 *   lab         JupyterLab 4 from .venv (token-less, root_dir = repo) with the jupyterlab-plotly renderer:
 *               opens the fixture, runs all cells, checks the plots (drawn by the renderer), that the Animator
 *               cell kept ONE output updated in place up to the final epoch, the images.
 *   notebook7   Notebook 7 (/notebooks/…) on the same server: the same checks.
 *   lab-html    JupyterLab 4 with the plotly renderer disabled (`jupyter labextension disable --level=user
 *               @jupyterlab/plotly-extension:factory` in a private JUPYTER_CONFIG_DIR): the same checks, drawn
 *               by the text/html fallback.
 *   widgets     tests/fixtures/widgets.ipynb (`d2l.interact` over a plot) in JupyterLab 4 and Notebook 7 on the `lab`
 *               server, with ipywidgets' front-end extension from .venv: the slider renders, dragging it redraws the
 *               plot through the kernel (comms, lib/display/widgets.ts).
 *   report      `d2l-ts lessons --report builtin --schedule short 05` (the renderer used without nbconvert;
 *               needs no Jupyter): the page of lecture 05 opened from file:// shows its markdown rendered
 *               (headings, bold, code, formulas drawn as MathML), no raw `**`, `$$` or TeX left.
 *
 * Screenshots: out/browser-nbconvert.png, out/browser-lab.png, out/notebook7.png, out/browser-lab-html.png,
 * out/browser-lab-widgets.png, out/notebook7-widgets.png,
 * out/browser-report.png; executed notebooks and HTML pages in out/browser/. Nothing may be fetched from the internet: requests to
 * any other origin than the local server are blocked and reported. The fixture file is left unchanged
 * (autosave off; restored and reported if a front end wrote it).
 *
 * Usage: node tests/browser/run.js [nbconvert] [lab] [notebook7] [lab-html] [report] [widgets]   (default: all)
 * Env: D2L_CHROMIUM (default /usr/bin/chromium), D2L_JUPYTER (default .venv/bin/jupyter, else PATH).
 * Needs the build (`npm run build`) and lib/index.ts exporting plot, Animator, showImages.
 * Ends with `N passed, N failed`; exit code 1 on any failure.
 */
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const {
  ROOT, results, check, stage, run, jupyterBin, makeWorkspace, startJupyter, launchBrowser, newPage, sleep,
} = require('./harness');

const FIXTURE = path.join(ROOT, 'tests', 'fixtures', 'display.ipynb');
const FIXTURE_URL_PATH = 'tests/fixtures/display.ipynb';
const OUT = path.join(ROOT, 'out');
const WORK = path.join(OUT, 'browser');
const PLOTLY = 'application/vnd.plotly.v1+json';
const MIMEBUNDLE = Symbol.for('jupyter.mimebundle');
const STAGES = ['nbconvert', 'lab', 'notebook7', 'lab-html', 'report', 'widgets'];
const WIDGETS_URL_PATH = 'tests/fixtures/widgets.ipynb';
/**
 * The plotly renderer's plugin id. JupyterLab 4 disables plugins by id (or the part before ':'); the package
 * name `jupyterlab-plotly` is accepted by `jupyter labextension disable` but leaves its mime renderer on.
 */
const PLOTLY_RENDERER_PLUGIN = '@jupyterlab/plotly-extension:factory';

/** What the fixture's code cells must show, in every front end. */
const EXPECT = {
  codeCells: 4,
  plot: { cell: 1, traces: 2, ytype: 'log' },
  animator: { cell: 2, traces: 3, lastEpoch: 5 },
  images: { cell: 3, count: 8, png: { width: 4 * 84 + 3 * 4, height: 2 * 84 + 4 } },
};

// ---- what a page shows ------------------------------------------------------------------------------------------

/**
 * Runs in the page: per code cell (JupyterLab, Notebook 7 and nbconvert's lab template share the DOM classes),
 * its outputs, the plotly plots in them and the image grid's images.
 */
function inspectCells() {
  return [...document.querySelectorAll('.jp-Notebook .jp-CodeCell, body > main .jp-CodeCell, .jp-CodeCell')]
    .filter((c, i, all) => all.indexOf(c) === i)
    .map((cell) => {
      const outputs = cell.querySelectorAll('.jp-OutputArea-child');
      const plots = [...cell.querySelectorAll('.js-plotly-plot')].map((el) => ({
        svg: !!el.querySelector('.main-svg'),
        traces: el.querySelectorAll('.scatterlayer .trace').length,
        ytype: el._fullLayout && el._fullLayout.yaxis ? el._fullLayout.yaxis.type : null,
        xs: Array.isArray(el.data) ? el.data.map((t) => Array.from(t.x || [])) : [],
        byHtml: !!el.closest('.d2l-plot') || el.classList.contains('d2l-plot'),
        byRenderer: !!el.closest('.jp-RenderedPlotly'),
      }));
      const images = [...cell.querySelectorAll('table.d2l-images img')].map((img) => {
        const r = img.getBoundingClientRect();
        return { ok: img.complete && img.naturalWidth > 0, w: Math.round(r.width), h: Math.round(r.height) };
      });
      const errors = [...cell.querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')]
        .map((e) => e.textContent.slice(0, 300));
      return { outputs: outputs.length, plots, images, errors };
    });
}

/** The checks every front end must pass on the executed fixture. `via`: 'renderer' | 'html' | undefined (either). */
function checkCells(tag, cells, via) {
  if (!check(`${tag}: ${EXPECT.codeCells} code cells`, cells.length === EXPECT.codeCells, `found ${cells.length}`)) return;
  check(`${tag}: no error output`, cells.every((c) => c.errors.length === 0), cells.flatMap((c) => c.errors));

  const p = cells[EXPECT.plot.cell];
  const plot = p.plots[0];
  check(`${tag}: plot cell has one output with one plotly figure`, p.outputs === 1 && p.plots.length === 1, { outputs: p.outputs, plots: p.plots.length });
  if (plot) {
    check(`${tag}: plot drawn (.main-svg) with ${EXPECT.plot.traces} traces`, plot.svg && plot.traces === EXPECT.plot.traces, plot);
    check(`${tag}: plot y axis is ${EXPECT.plot.ytype}`, plot.ytype === EXPECT.plot.ytype, plot.ytype);
    if (via === 'renderer') check(`${tag}: plot drawn by the plotly renderer (application/vnd.plotly.v1+json)`, plot.byRenderer && !plot.byHtml, plot);
    if (via === 'html') check(`${tag}: plot drawn by the text/html fallback`, plot.byHtml && !plot.byRenderer, plot);
  }

  const a = cells[EXPECT.animator.cell];
  const anim = a.plots[0];
  check(`${tag}: Animator cell has ONE output`, a.outputs === 1 && a.plots.length === 1, { outputs: a.outputs, plots: a.plots.length });
  if (anim) {
    check(`${tag}: Animator drawn with ${EXPECT.animator.traces} traces`, anim.svg && anim.traces === EXPECT.animator.traces, anim.traces);
    const last = anim.xs.map((x) => x[x.length - 1]);
    check(`${tag}: Animator shows the final epoch (${EXPECT.animator.lastEpoch})`,
      last.length === EXPECT.animator.traces && last.every((x) => x === EXPECT.animator.lastEpoch), last);
    if (via === 'renderer') check(`${tag}: Animator drawn by the plotly renderer`, anim.byRenderer, anim);
    if (via === 'html') check(`${tag}: Animator drawn by the text/html fallback`, anim.byHtml, anim);
  }

  const im = cells[EXPECT.images.cell];
  check(`${tag}: image grid shows ${EXPECT.images.count} decoded, visible images`,
    im.images.length === EXPECT.images.count && im.images.every((i) => i.ok && i.w > 0 && i.h > 0), im.images);
}

// ---- stages -----------------------------------------------------------------------------------------------------

/** Checks the executed notebook file itself (what nbconvert and a saved notebook keep). */
function checkExecutedNotebook(file) {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  const code = nb.cells.filter((c) => c.cell_type === 'code');
  const text = (v) => (Array.isArray(v) ? v.join('') : String(v ?? ''));
  const tag = 'executed notebook';
  check(`${tag}: no error outputs`, code.every((c) => c.outputs.every((o) => o.output_type !== 'error')),
    code.flatMap((c) => c.outputs.filter((o) => o.output_type === 'error').map((o) => `${o.ename}: ${o.evalue}`)));
  const plotOut = code[EXPECT.plot.cell].outputs.filter((o) => o.data);
  const fig = plotOut[0]?.data?.[PLOTLY];
  check(`${tag}: plot bundle has plotly JSON, text/html and text/plain`,
    plotOut.length === 1 && fig && 'text/html' in plotOut[0].data && 'text/plain' in plotOut[0].data, plotOut.map((o) => Object.keys(o.data)));
  if (fig) {
    check(`${tag}: plot JSON has ${EXPECT.plot.traces} traces and a log y axis`,
      fig.data.length === EXPECT.plot.traces && fig.layout.yaxis.type === 'log', { traces: fig.data.length, y: fig.layout.yaxis.type });
  }
  const animOut = code[EXPECT.animator.cell].outputs;
  const afig = animOut[0]?.data?.[PLOTLY];
  check(`${tag}: Animator cell kept ONE display_data output (updated in place)`,
    animOut.length === 1 && animOut[0].output_type === 'display_data', animOut.map((o) => o.output_type));
  if (afig) {
    check(`${tag}: Animator's saved state is the final one (5 epochs x 3 series)`,
      afig.data.length === 3 && afig.data.every((t) => t.x.length === 5 && t.x[4] === 5), afig.data.map((t) => t.x));
  }
  const htmls = code.flatMap((c) => c.outputs).map((o) => text(o.data?.['text/html']));
  const carriers = htmls.filter((h) => h.includes('if (!window.Plotly) {')).length;
  check(`${tag}: plotly.js inlined exactly once`, carriers === 1, `${carriers} outputs carry it`);
  // Outside the inlined bundle (whose code holds attribution links for map tiles), no script, style or image
  // comes from the network.
  const own = htmls.map((h) => h.replace(/<script>\/\* plotly\.js [\s\S]*?<\/script>/, ''));
  check(`${tag}: no output loads anything from the network`,
    own.every((h) => !/<(script|link|img)\b[^>]*\b(src|href)=["']?(https?:)?\/\//i.test(h)), own.map((h) => h.slice(0, 200)));
  const img = code[EXPECT.images.cell].outputs[0]?.data;
  if (check(`${tag}: image grid bundle has image/png, text/html, text/plain`, img && ['image/png', 'text/html', 'text/plain'].every((k) => k in img))) {
    const { PNG } = require('pngjs');
    const png = PNG.sync.read(Buffer.from(text(img['image/png']), 'base64'));
    check(`${tag}: image grid PNG decodes to ${EXPECT.images.png.width}x${EXPECT.images.png.height}`,
      png.width === EXPECT.images.png.width && png.height === EXPECT.images.png.height, [png.width, png.height]);
  }
}

async function nbconvertStage(ws, browser) {
  const env = ws.env('nbconvert');
  const executed = path.join(WORK, 'display.nbconvert.ipynb');
  const r = await run(jupyterBin(), ['nbconvert', '--to', 'notebook', '--execute', FIXTURE, '--output-dir', WORK,
    '--output', 'display.nbconvert.ipynb', '--ExecutePreprocessor.timeout=120'], { env, timeoutMs: 180_000 });
  if (!check('nbconvert --execute runs the fixture', r.code === 0, r.out.slice(-2000))) return;
  checkExecutedNotebook(executed);

  // nbconvert's own lab template loads require.js and MathJax from cdnjs; plots need neither. Once as is
  // (those two may be attempted and are blocked), once with them switched off (no request at all).
  const pages = [
    { name: 'display.html', args: [], tag: 'nbconvert html (default template)' },
    { name: 'display-offline.html', args: ['--HTMLExporter.require_js_url=data:,', '--HTMLExporter.mathjax_url=data:,'], tag: 'nbconvert html (CDN scripts off)' },
  ];
  for (const pg of pages) {
    const c = await run(jupyterBin(), ['nbconvert', '--to', 'html', executed, '--output-dir', WORK, '--output', pg.name, ...pg.args], { env });
    if (!check(`${pg.tag}: converted`, c.code === 0, c.out.slice(-2000))) continue;
    browser.network.blocked.length = 0;
    const { page, errors } = await newPage(browser, pg.tag);
    await page.goto(`file://${path.join(WORK, pg.name)}`);
    await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2, null, { timeout: 30_000 }).catch(() => {});
    await sleep(300);
    checkCells(pg.tag, await page.evaluate(inspectCells), 'html');
    check(`${pg.tag}: no page errors`, errors.length === 0, errors);
    const blocked = [...browser.network.blocked];
    if (pg.args.length) {
      check(`${pg.tag}: no http(s) request attempted`, blocked.length === 0, blocked);
      await page.screenshot({ path: path.join(OUT, 'browser-nbconvert.png'), fullPage: true });
    } else {
      const template = /^https:\/\/cdnjs\.cloudflare\.com\/ajax\/libs\/(require\.js|mathjax)\//;
      check(`${pg.tag}: only nbconvert's own require.js/MathJax were attempted (blocked), nothing for the outputs`,
        blocked.every((u) => template.test(u)), blocked);
    }
    await page.close();
  }
}

/** A page where a figure comes before the output carrying plotly.js: its script must wait for window.Plotly. */
async function outOfOrderStage(browser) {
  const plotMod = require(path.join(ROOT, 'dist', 'lib', 'display', 'plot.js'));
  plotMod.resetPlotlyInline();
  const carrier = plotMod.plot([1, 2, 3], [1, 4, 9], { legend: ['carrier'] })[MIMEBUNDLE]()['text/html'];
  const later = plotMod.plot([1, 2, 3], [[3, 2, 1], [1, 2, 3]], { legend: ['a', 'b'] })[MIMEBUNDLE]()['text/html'];
  check('out-of-order: only the first figure carries plotly.js', carrier.includes('if (!window.Plotly)') && !later.includes('if (!window.Plotly)'));
  const file = path.join(WORK, 'out-of-order.html');
  fs.writeFileSync(file, `<!doctype html><html><head><meta charset="utf-8"></head><body>\n<div class="jp-CodeCell"><div class="jp-OutputArea-child">${later}</div></div>\n` +
    `<div class="jp-CodeCell"><div class="jp-OutputArea-child">${carrier}</div></div>\n</body></html>\n`);
  browser.network.blocked.length = 0;
  const { page, errors } = await newPage(browser, 'out-of-order');
  await page.goto(`file://${file}`);
  await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2, null, { timeout: 15_000 }).catch(() => {});
  const cells = await page.evaluate(inspectCells);
  check('out-of-order: the figure before the carrier is drawn once plotly.js arrives',
    cells[0]?.plots[0]?.svg && cells[0].plots[0].traces === 2, cells[0]?.plots);
  check('out-of-order: the carrier is drawn', cells[1]?.plots[0]?.svg && cells[1].plots[0].traces === 1, cells[1]?.plots);
  check('out-of-order: no page errors, no requests', errors.length === 0 && browser.network.blocked.length === 0, [...errors, ...browser.network.blocked]);
  await page.close();
}

/**
 * The lessons report's built-in renderer (what `d2l-ts lessons` uses when nbconvert is absent): lecture 05's page,
 * opened from file://, must show its markdown rendered and its formulas as MathML drawn by the browser, with
 * nothing fetched.
 */
async function reportStage(browser) {
  const tag = 'lessons report (built-in renderer)';
  const out = path.join(WORK, 'lessons');
  fs.rmSync(out, { recursive: true, force: true });
  const r = await run(process.execPath, [path.join(ROOT, 'bin', 'd2l-ts.js'), 'lessons', '--report', 'builtin', '--schedule', 'short', '--out', out, '05'],
    { timeoutMs: 300_000 });
  if (!check(`${tag}: d2l-ts lessons --report builtin --schedule short 05 passes`, r.code === 0 && /pages rendered by builtin/.test(r.out), r.out.slice(-2000))) return;
  browser.network.blocked.length = 0;
  const { page, errors } = await newPage(browser, tag);
  await page.goto(`file://${path.join(out, '05-linear-algebra.html')}`);
  const seen = await page.evaluate(() => {
    const md = [...document.querySelectorAll('.md')];
    const math = [...document.querySelectorAll('.md math')];
    // The prose of markdown cells, without code and formulas: what must not show markdown or TeX source.
    const prose = md.map((e) => {
      const c = e.cloneNode(true);
      for (const x of c.querySelectorAll('code, pre, math')) x.remove();
      return c.textContent;
    });
    return {
      cells: md.length,
      headings: document.querySelectorAll('.md h1, .md h2').length,
      strong: document.querySelectorAll('.md strong').length,
      code: document.querySelectorAll('.md code').length,
      math: math.length,
      display: document.querySelectorAll('.md math[display="block"]').length,
      drawn: math.filter((m) => m.getBoundingClientRect().width > 0 && m.getBoundingClientRect().height > 0).length,
      raw: prose.filter((t) => /\*\*|\$\$|\\[A-Za-z]+/.test(t)).map((t) => t.slice(0, 200)),
    };
  });
  check(`${tag}: markdown cells rendered (headings, bold, code)`,
    seen.cells > 10 && seen.headings >= 5 && seen.strong >= 1 && seen.code >= 5, seen);
  check(`${tag}: formulas are MathML laid out by the browser`, seen.math >= 10 && seen.drawn === seen.math, seen);
  check(`${tag}: no raw **, $$ or TeX left in markdown prose`, seen.raw.length === 0, seen.raw);
  check(`${tag}: no page errors, no requests`, errors.length === 0 && browser.network.blocked.length === 0, [...errors, ...browser.network.blocked]);
  await page.screenshot({ path: path.join(OUT, 'browser-report.png'), fullPage: false });
  await page.close();
}

/**
 * Opens the fixture in JupyterLab or Notebook 7, picks the d2l-ts kernel if asked, runs all cells, and checks
 * the result. While it runs, the Animator cell is watched: its output count must never exceed one, and its
 * output must be replaced by later states (updated in place) at least once.
 */
/** Opens a notebook in a front end on `server`, on the d2l-ts kernel, allowing requests to that server only. */
async function openNotebook(server, browser, { tag, url, codeCells }) {
  browser.network.allowed.clear();
  browser.network.allowed.add(server.base);
  browser.network.allowed.add(server.base.replace(/^http/, 'ws'));
  browser.network.blocked.length = 0;
  const { page, errors } = await newPage(browser, tag);
  await page.goto(`${server.base}${url}`);
  await page.waitForFunction((n) => window.jupyterapp && document.querySelectorAll('.jp-Notebook .jp-CodeCell').length >= n,
    codeCells, { timeout: 90_000 });
  // A kernel dialog only appears when the notebook's kernel is unknown: choose d2l-ts.
  const kernelReady = () => page.waitForFunction(() => {
    const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return k && k.status === 'idle';
  }, null, { timeout: 60_000 });
  const dialog = page.locator('.jp-Dialog');
  await Promise.race([kernelReady(), dialog.waitFor({ timeout: 60_000 })]);
  if (await dialog.isVisible()) {
    const select = dialog.locator('select');
    if (await select.count()) await select.selectOption({ label: 'TypeScript (d2l-ts)' });
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
    await kernelReady();
  }
  const kernelName = await page.evaluate(() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name);
  check(`${tag}: notebook runs on the d2l-ts kernel`, kernelName === 'd2l-ts', kernelName);
  return { page, errors };
}

/** Runs every cell and waits until each has an execution count and the kernel is idle. */
async function runAllCells(page) {
  await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
  await page.waitForFunction(() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.widgets.filter((c) => c.model.type === 'code');
    return cells.every((c) => c.model.executionCount !== null) && w.sessionContext.session.kernel.status === 'idle';
  }, null, { timeout: 120_000, polling: 100 });
}

async function frontEndStage(server, browser, { tag, url, via, screenshot }) {
  const { page, errors } = await openNotebook(server, browser, { tag, url, codeCells: EXPECT.codeCells });

  // Watch the Animator cell while it runs. A MutationObserver sees every state the front end puts in the DOM,
  // even when it handles a burst of messages without yielding to timers.
  await page.evaluate((cellIndex) => {
    const seen = { maxOutputs: 0, states: 0, htmlStates: 0, rendererStates: 0, lengths: [] };
    window.__d2lAnimator = seen;
    const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[cellIndex];
    const ids = new Set();
    let renderers = new Set();
    const look = () => {
      seen.maxOutputs = Math.max(seen.maxOutputs, cell.querySelectorAll('.jp-OutputArea-child').length);
      for (const d of cell.querySelectorAll('.d2l-plot')) ids.add(d.id);
      for (const r of cell.querySelectorAll('.jp-RenderedPlotly')) renderers.add(r);
      seen.htmlStates = ids.size;
      seen.rendererStates = renderers.size;
      seen.states = ids.size + renderers.size;
      const el = cell.querySelector('.js-plotly-plot');
      const n = el && Array.isArray(el.data) && el.data[0] ? el.data[0].x.length : 0;
      if (n && seen.lengths[seen.lengths.length - 1] !== n) seen.lengths.push(n);
    };
    window.__d2lObserver = new MutationObserver(look);
    window.__d2lObserver.observe(cell, { childList: true, subtree: true });
    window.__d2lSampler = setInterval(look, 20);
  }, EXPECT.animator.cell);
  const t0 = Date.now();
  await runAllCells(page);
  await page.waitForFunction(() => document.querySelectorAll('.jp-Notebook .js-plotly-plot .main-svg').length >= 2, null, { timeout: 20_000 }).catch(() => {});
  await sleep(500);
  console.log(`   ran all cells in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const seen = await page.evaluate(() => {
    clearInterval(window.__d2lSampler);
    window.__d2lObserver.disconnect();
    return window.__d2lAnimator;
  });
  check(`${tag}: Animator updated ONE output in place while running`, seen.maxOutputs === 1, seen);
  check(`${tag}: Animator output replaced in place by later states (${seen.htmlStates} html + ${seen.rendererStates} renderer)`,
    seen.states >= 2, seen);
  checkCells(tag, await page.evaluate(inspectCells), via);
  check(`${tag}: no page errors`, errors.length === 0, errors);
  check(`${tag}: nothing requested outside ${server.base}`, browser.network.blocked.length === 0, browser.network.blocked);
  await page.evaluate(() => { const n = document.querySelector('.jp-Notebook'); if (n) n.scrollTop = 0; });
  await page.screenshot({ path: path.join(OUT, screenshot) });
  await page.close();
  await server.shutdownKernels();
}

/**
 * tests/fixtures/widgets.ipynb in a front end with ipywidgets' extension (jupyterlab_widgets): `d2l.interact` with an
 * integer slider n ∈ [2, 10] over a plot of n points. The slider must render with its starting value (6, mid-range)
 * and the plot below it; dragging the slider's handle to 7 must redraw the plot with 7 points — the kernel re-ran the
 * function.
 */
async function widgetStage(server, browser, { tag, url, screenshot }) {
  const { page, errors } = await openNotebook(server, browser, { tag, url, codeCells: 2 });
  await runAllCells(page);
  // The interact cell of THIS notebook: JupyterLab keeps the notebooks of earlier stages open in hidden tabs.
  await page.evaluate(() => {
    window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-CodeCell')[1].setAttribute('data-d2l-interact', '');
  });
  const cellSel = '[data-d2l-interact]';
  const look = () => page.evaluate(() => {
    const cell = document.querySelector('[data-d2l-interact]');
    const plot = cell.querySelector('.js-plotly-plot');
    return {
      slider: !!cell.querySelector('.widget-slider .noUi-handle'),
      readout: cell.querySelector('.widget-readout')?.textContent?.trim() ?? null,
      label: cell.querySelector('.widget-slider .widget-label')?.textContent?.trim() ?? null,
      points: plot && Array.isArray(plot.data) && plot.data[0] ? plot.data[0].x.length : null,
      svg: !!plot?.querySelector('.main-svg'),
      text: cell.querySelector('.jp-OutputArea-output')?.textContent?.slice(0, 200) ?? '',
    };
  });
  await page.waitForFunction(() => {
    const cell = document.querySelector('[data-d2l-interact]');
    return cell && cell.querySelector('.widget-slider .noUi-handle') && cell.querySelector('.js-plotly-plot .main-svg');
  }, null, { timeout: 30_000 }).catch(() => {});
  const before = await look();
  check(`${tag}: interact's slider renders as a live widget (label n, value 6)`, before.slider && before.readout === '6' && before.label === 'n', before);
  check(`${tag}: interact's first plot is drawn below the slider (6 points)`, before.svg && before.points === 6, before);
  if (before.slider) {
    // drag the handle to 7 on the track (range 2..10: 5/8 of the way), as a learner does
    const handle = page.locator(`${cellSel} .noUi-handle`).first();
    await handle.scrollIntoViewIfNeeded();
    const track = await page.locator(`${cellSel} .noUi-target`).first().boundingBox();
    const h = await handle.boundingBox();
    if (track && h) {
      await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
      await page.mouse.down();
      await page.mouse.move(track.x + track.width * (5 / 8), h.y + h.height / 2, { steps: 8 });
      await page.mouse.up();
    }
    const redrawn = await page.waitForFunction(() => {
      const plot = document.querySelector('[data-d2l-interact] .js-plotly-plot');
      return plot && Array.isArray(plot.data) && plot.data[0] && plot.data[0].x.length === 7;
    }, null, { timeout: 20_000 }).then(() => true, () => false);
    const after = await look();
    check(`${tag}: moving the slider to 7 redraws the plot with 7 points`, redrawn && after.readout === '7' && after.svg, after);
  }
  check(`${tag}: no page errors`, errors.length === 0, errors);
  check(`${tag}: nothing requested outside ${server.base}`, browser.network.blocked.length === 0, browser.network.blocked);
  await page.screenshot({ path: path.join(OUT, screenshot) });
  await page.close();
  await server.shutdownKernels();
}

// ---- main -------------------------------------------------------------------------------------------------------

function sha(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function main() {
  const t0 = Date.now();
  const want = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = want.filter((w) => !STAGES.includes(w));
  if (unknown.length) {
    console.error(`run.js: unknown stage ${unknown.join(', ')} (stages: ${STAGES.join(', ')})`);
    process.exit(2);
  }
  const on = (s) => !want.length || want.includes(s);
  fs.mkdirSync(WORK, { recursive: true });

  // Preflight: the fixture calls d2l.plot etc. through the built package.
  let lib;
  try { lib = require(path.join(ROOT, 'dist', 'lib', 'index.js')); } catch (e) { lib = {}; }
  const missing = ['plot', 'Animator', 'showImages'].filter((k) => typeof lib[k] !== 'function');
  if (!check('build: dist/lib/index.js exports plot, Animator, showImages', missing.length === 0,
    `missing ${missing.join(', ')}: run \`npm run build\`; lib/index.ts needs to export them from './display/…'`)) {
    console.log(`\n${results.passed} passed, ${results.failed} failed`);
    process.exit(1);
  }

  const fixtureHash = sha(FIXTURE);
  const fixture = fs.readFileSync(FIXTURE);
  const checkpoints = path.join(path.dirname(FIXTURE), '.ipynb_checkpoints');
  const hadCheckpoints = fs.existsSync(checkpoints);
  const ws = makeWorkspace();
  const browser = await launchBrowser(ws);
  const servers = [];
  try {
    if (on('nbconvert')) {
      await stage('nbconvert --execute → --to html → Chromium (file://, offline)', () => nbconvertStage(ws, browser));
      await stage('html fallback: a figure before the output that carries plotly.js', () => outOfOrderStage(browser));
    }
    if (on('report')) await stage('lessons report, built-in renderer → Chromium (file://, offline)', () => reportStage(browser));
    // Both servers start at once (with and without the plotly renderer).
    let lab = null, labHtml = null;
    if (on('lab') || on('notebook7') || on('lab-html') || on('widgets')) {
      await stage('start JupyterLab servers', async () => {
        const started = await Promise.allSettled([
          on('lab') || on('notebook7') || on('widgets') ? startJupyter(ws, 'lab') : null,
          on('lab-html') ? startJupyter(ws, 'lab-html', { disabledExtensions: [PLOTLY_RENDERER_PLUGIN] }) : null,
        ]);
        [lab, labHtml] = started.map((r) => (r.status === 'fulfilled' ? r.value : null));
        servers.push(lab, labHtml);
        for (const r of started) if (r.status === 'rejected') throw r.reason;
        console.log(`   ${[lab, labHtml].filter(Boolean).map((s) => s.base).join(', ')}`);
      });
    }
    if (on('lab') && lab) {
      await stage('JupyterLab 4 with the plotly renderer', () => frontEndStage(lab, browser, {
        tag: 'JupyterLab', url: `/lab/tree/${FIXTURE_URL_PATH}`, via: 'renderer', screenshot: 'browser-lab.png' }));
    }
    if (on('notebook7') && lab) {
      await stage('Notebook 7', () => frontEndStage(lab, browser, {
        tag: 'Notebook 7', url: `/notebooks/${FIXTURE_URL_PATH}`, via: 'renderer', screenshot: 'notebook7.png' }));
    }
    if (on('widgets') && lab) {
      await stage('widgets: interact in JupyterLab 4 (ipywidgets)', () => widgetStage(lab, browser, {
        tag: 'JupyterLab widgets', url: `/lab/tree/${WIDGETS_URL_PATH}`, screenshot: 'browser-lab-widgets.png' }));
      await stage('widgets: interact in Notebook 7 (ipywidgets)', () => widgetStage(lab, browser, {
        tag: 'Notebook 7 widgets', url: `/notebooks/${WIDGETS_URL_PATH}`, screenshot: 'notebook7-widgets.png' }));
    }
    if (on('lab-html') && labHtml) {
      await stage('JupyterLab 4 without the plotly renderer (text/html fallback)', () => frontEndStage(labHtml, browser, {
        tag: 'JupyterLab (no renderer)', url: `/lab/tree/${FIXTURE_URL_PATH}`, via: 'html', screenshot: 'browser-lab-html.png' }));
    }
  } finally {
    await browser.close().catch(() => {});
    for (const s of servers) if (s) await s.stop();
    const changed = sha(FIXTURE) !== fixtureHash;
    if (changed) fs.writeFileSync(FIXTURE, fixture);
    if (!hadCheckpoints) fs.rmSync(checkpoints, { recursive: true, force: true });
    check('the fixture notebook was left unchanged', !changed, 'a front end saved it; restored');
    ws.cleanup();
  }
  console.log(`\nbrowser checks: ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in out/`);
  if (results.failures.length) console.log(`failed: ${results.failures.join('; ')}`);
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exitCode = results.failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  console.log(`${results.passed} passed, ${results.failed + 1} failed`);
  process.exit(1);
});
