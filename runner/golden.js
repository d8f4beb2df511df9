#!/usr/bin/env node
/*
 * check-golden: checks an executed lecture notebook against its golden file. The ONE checker for both clients:
 * `npm run lessons` (scripts/run-notebooks.js) requires this file as a module and runs it in-process on every
 * notebook it executes; .ci/run runs it as a command on the notebooks `jupyter nbconvert --execute` wrote.
 * Both read the same golden files, so both clients must agree.
 *
 *   node tests/jupyter/check-golden.js EXECUTED.ipynb [GOLDEN.json]      one notebook (golden: see below)
 *   node tests/jupyter/check-golden.js A.ipynb B.ipynb ...               several, one summary line at the end
 *     --golden-dir DIR     where golden files live (default tests/golden)
 *     --schedule S         full | short: which bands apply (default: the notebook's metadata.d2l.schedule,
 *                          written by the runner, else full — nbconvert runs full epochs)
 *     --allow-missing      a notebook without a golden file is only checked for schema and errors
 *     --json               print the results as JSON instead of text
 * Prints one line per check (`ok`/`FAIL`, what, the value and its band, the cell) and `NAME: P passed, F failed`
 * per notebook, then `P passed, F failed` over all; exit code 1 when anything failed, 2 on bad usage/golden.
 *
 * What is checked, in order:
 *   1. schema   the notebook is valid nbformat 4.5 (the JSON schema vendored in scripts/lessons/);
 *   2. cells    every executable code cell ran (has an execution_count; empty cells and cells tagged
 *               `skip-execution` are skipped, as nbclient does) and no cell has an `error` output unless it is
 *               tagged `raises-exception`;
 *   3. checks   every value the notebook reported with `d2l.check(name, value)` lies in its band;
 *   4. outputs  every output expectation of the golden file holds.
 *
 * The check marker (lib/check.ts): `d2l.check('test_acc', acc)` displays a display_data output whose bundle is
 *   { "application/vnd.d2l.check+json": { "name": "test_acc", "value": 0.8312 },
 *     "text/plain": "check test_acc = 0.8312" }
 * `value` is a JSON number, or the string "NaN" / "Infinity" / "-Infinity" (never in any band).
 *
 * GOLDEN FILE: tests/golden/<notebook-name>.json, where <notebook-name> is the notebook's file name without
 * `.ipynb` (and without a `.nbconvert` suffix), or the notebook's `metadata.d2l.golden` when set (used by
 * tests/fixtures/broken-*.ipynb to share a lecture's golden file). Validated with ajv against GOLDEN_SCHEMA
 * below; unknown keys are errors.
 *
 * {
 *   "description": "free text",                          optional
 *   "fast": true,                                        optional: `npm test` runs this notebook (short schedule)
 *   "checks": {                                          optional: one entry per d2l.check name
 *     "<name>": BAND & {                                 name: [A-Za-z_][A-Za-z0-9_.-]*
 *       "short": BAND,                                   optional: replaces the band under --schedule short
 *       "optional": true,                                optional: not emitting it is not a failure
 *       "description": "..."                             optional
 *     }
 *   },
 *   "outputs": [ EXPECTATION, ... ]                      optional
 * }
 * BAND (at least one of min / max / equals):
 *   {"min": 0.8}                      value >= 0.8
 *   {"max": 2e-3}                     value <= 0.002
 *   {"min": 3e-5, "max": 1e-4}        3e-5 <= value <= 1e-4
 *   {"equals": 190}                   value == 190 exactly
 *   {"equals": 190, "abs": 1e-6}      |value - 190| <= 1e-6
 *   {"equals": 0.5, "rel": 0.01}      |value - 0.5| <= 0.01 * 0.5   (abs and rel together: the larger wins)
 * Every occurrence of a name is checked (a check inside a loop is checked each time). A marker whose name has no
 * band in the golden file fails: every reported number must have a band.
 *
 * EXPECTATION: outputs of one kind that must exist (at least one, or exactly `count`), in the whole notebook or
 * in the cells selected by `cell`; the optional filters narrow which outputs match:
 *   {"kind": "execute_result" | "display_data" | "stream" | "error" | "plot" | "image",
 *    "cell": "c35",            a cell id, or a tag in the cell's metadata.tags (all cells with that tag)
 *    "count": 1,               exactly this many matching outputs (0: must be absent); default: at least one
 *    "text": "tensor(190.)",   the text equals this (trailing whitespace ignored)
 *    "contains": "[40., 45.",  the text contains this
 *    "match": "^tensor\\(",    the text matches this JavaScript regular expression (no flags)
 *    "mime": "text/html",      (execute_result, display_data, plot, image) the bundle has this mime type
 *    "traces": 3,              (plot) the figure has exactly this many traces
 *    "names": ["train loss"],  (plot) the traces' names, in order
 *    "name": "stdout",         (stream) stdout or stderr
 *    "ename": "TypeError",     (error) the error's name
 *    "schedule": "full",       only checked under this schedule
 *    "description": "..."}
 * Kinds: execute_result / display_data are outputs of that output_type (display_data excludes check markers);
 * "plot" is any display_data / execute_result carrying `application/vnd.plotly.v1+json` (lib/plot.ts; the final
 * figure after in-place updates); "image" any carrying image/png, image/jpeg or image/svg+xml.
 * The text of an output: text/plain of a bundle, the text of a stream, "ename: evalue" of an error.
 * Example (tests/golden/05-linear-algebra.json):
 *   {"fast": true, "outputs": [{"kind": "execute_result", "cell": "c35", "text": "tensor(190.)"}]}
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { readNotebook, validateNotebook, formatAjvErrors, codeCells, cellLabel, isExecutable, notebookName, text } = require('../../scripts/lessons/notebook.js');

const ROOT = path.resolve(__dirname, '..', '..');
const GOLDEN_DIR = path.join(ROOT, 'tests', 'golden');
const CHECK_MIME = 'application/vnd.d2l.check+json';
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const IMAGE_MIMES = ['image/png', 'image/jpeg', 'image/svg+xml'];
const KINDS = ['execute_result', 'display_data', 'stream', 'error', 'plot', 'image'];
const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_.-]*$';

const BAND_PROPS = {
  min: { type: 'number' },
  max: { type: 'number' },
  equals: { type: 'number' },
  abs: { type: 'number', minimum: 0 },
  rel: { type: 'number', minimum: 0 },
};
const BAND_RULES = {
  anyOf: [{ required: ['min'] }, { required: ['max'] }, { required: ['equals'] }],
  dependencies: { abs: ['equals'], rel: ['equals'] },
};
/** The JSON schema of golden files (draft-07, ajv). */
const GOLDEN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $comment: { type: 'string' },
    description: { type: 'string' },
    fast: { type: 'boolean' },
    checks: {
      type: 'object',
      propertyNames: { pattern: NAME_PATTERN },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...BAND_PROPS,
          short: { type: 'object', additionalProperties: false, properties: BAND_PROPS, ...BAND_RULES },
          optional: { type: 'boolean' },
          description: { type: 'string' },
        },
        ...BAND_RULES,
      },
    },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kind'],
        properties: {
          kind: { enum: KINDS },
          cell: { type: 'string', minLength: 1 },
          count: { type: 'integer', minimum: 0 },
          text: { type: 'string' },
          contains: { type: 'string' },
          match: { type: 'string' },
          mime: { type: 'string' },
          traces: { type: 'integer', minimum: 0 },
          names: { type: 'array', items: { type: 'string' } },
          name: { enum: ['stdout', 'stderr'] },
          ename: { type: 'string' },
          schedule: { enum: ['full', 'short'] },
          description: { type: 'string' },
        },
      },
    },
  },
};

let goldenValidator;
/** Validates a parsed golden file; returns [] or messages. Also checks what the schema cannot say. */
function validateGolden(golden) {
  if (!goldenValidator) {
    const Ajv = require('ajv');
    goldenValidator = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(GOLDEN_SCHEMA);
  }
  if (!goldenValidator(golden)) return formatAjvErrors(goldenValidator.errors);
  const errors = [];
  (golden.outputs ?? []).forEach((e, i) => {
    const only = { traces: ['plot'], names: ['plot'], name: ['stream'], ename: ['error'], mime: ['execute_result', 'display_data', 'plot', 'image'] };
    for (const [k, kinds] of Object.entries(only)) if (k in e && !kinds.includes(e.kind)) errors.push(`/outputs/${i}: "${k}" does not apply to kind ${e.kind}`);
    if (e.match !== undefined) {
      try { new RegExp(e.match); } catch (err) { errors.push(`/outputs/${i}/match: ${err.message}`); }
    }
  });
  return errors;
}

/** Reads and validates a golden file; throws with every problem named. */
function loadGolden(file) {
  let golden;
  try {
    golden = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`golden file ${file}: ${e.message}`);
  }
  const errors = validateGolden(golden);
  if (errors.length) throw new Error(`golden file ${file} is invalid:\n  ${errors.join('\n  ')}`);
  return golden;
}

/** The golden file for an executed notebook: metadata.d2l.golden, else the file name. */
function goldenPathFor(nb, nbFile, goldenDir = GOLDEN_DIR) {
  const name = nb.metadata?.d2l?.golden ?? notebookName(nbFile);
  return path.join(goldenDir, `${name}.json`);
}

// ---------------------------------------------------------------------------------------------------------

/** Short number text: 0.8312, 190, 5.1e-5. */
function fmtNum(v) {
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const p = Number(v.toPrecision(6));
  return (p !== 0 && (Math.abs(p) < 1e-3 || Math.abs(p) >= 1e6) ? p.toExponential() : String(p)).replace('e+', 'e');
}

/** `>= 0.8`, `in [3e-5, 1e-4]`, `== 190 ± 1e-6`. */
function describeBand(b) {
  const parts = [];
  if (b.min !== undefined && b.max !== undefined) parts.push(`in [${fmtNum(b.min)}, ${fmtNum(b.max)}]`);
  else if (b.min !== undefined) parts.push(`>= ${fmtNum(b.min)}`);
  else if (b.max !== undefined) parts.push(`<= ${fmtNum(b.max)}`);
  if (b.equals !== undefined) {
    const tol = [b.abs !== undefined ? `± ${fmtNum(b.abs)}` : '', b.rel !== undefined ? `± ${fmtNum(b.rel * 100)}%` : ''].filter(Boolean).join(' or ');
    parts.push(`== ${fmtNum(b.equals)}${tol ? ' ' + tol : ''}`);
  }
  return parts.join(' and ');
}

/** Whether `value` lies in band `b`; returns null when it does, else why not. */
function bandViolation(value, b) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'not a finite number';
  if (b.min !== undefined && value < b.min) return 'below the band';
  if (b.max !== undefined && value > b.max) return 'above the band';
  if (b.equals !== undefined) {
    const tol = Math.max(b.abs ?? 0, (b.rel ?? 0) * Math.abs(b.equals));
    const off = Math.abs(value - b.equals);
    if (!(off <= tol)) return `off by ${fmtNum(off)}`;
  }
  return null;
}

/** The band that applies under `schedule` (the `short` band replaces the full one). */
function bandFor(spec, schedule) {
  const src = schedule === 'short' && spec.short ? spec.short : spec;
  const b = {};
  for (const k of Object.keys(BAND_PROPS)) if (src[k] !== undefined) b[k] = src[k];
  return b;
}

function markerValue(v) {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v;
}

/** Every check marker in the notebook, in output order. */
function findMarkers(nb) {
  const markers = [];
  for (const c of codeCells(nb)) {
    for (const out of c.cell.outputs ?? []) {
      const m = out.data?.[CHECK_MIME];
      if (m && typeof m === 'object') markers.push({ name: String(m.name), value: markerValue(m.value), where: c });
    }
  }
  return markers;
}

const isBundle = (o) => o.output_type === 'display_data' || o.output_type === 'execute_result';
const KIND_TEST = {
  execute_result: (o) => o.output_type === 'execute_result',
  display_data: (o) => o.output_type === 'display_data' && !(CHECK_MIME in (o.data ?? {})),
  stream: (o) => o.output_type === 'stream',
  error: (o) => o.output_type === 'error',
  plot: (o) => isBundle(o) && PLOTLY_MIME in (o.data ?? {}),
  image: (o) => isBundle(o) && IMAGE_MIMES.some((m) => m in (o.data ?? {})),
};

/**
 * A cell's outputs with consecutive streams of the same name joined, as nbclient's coalesce_streams does:
 * nbconvert keeps each flushed chunk of console output as its own output while `npm run lessons` merges
 * them, and both clients must pass the same expectations.
 */
function mergedOutputs(cell) {
  const merged = [];
  for (const o of cell.outputs ?? []) {
    const last = merged[merged.length - 1];
    if (o.output_type === 'stream' && last?.output_type === 'stream' && last.name === o.name) {
      merged[merged.length - 1] = { ...last, text: text(last.text) + text(o.text) };
    } else merged.push(o);
  }
  return merged;
}

/** The text an expectation's text/contains/match look at. */
function outputText(o) {
  if (o.output_type === 'stream') return text(o.text);
  if (o.output_type === 'error') return `${o.ename}: ${o.evalue}`;
  return text(o.data?.['text/plain']);
}

function figureOf(o) {
  let fig = o.data?.[PLOTLY_MIME];
  if (typeof fig === 'string') { try { fig = JSON.parse(fig); } catch { fig = undefined; } }
  return fig && typeof fig === 'object' ? fig : {};
}

function outputMatches(o, e) {
  if (!KIND_TEST[e.kind](o)) return false;
  if (e.name !== undefined && o.name !== e.name) return false;
  if (e.ename !== undefined && o.ename !== e.ename) return false;
  if (e.mime !== undefined && !(e.mime in (o.data ?? {}))) return false;
  if (e.traces !== undefined || e.names !== undefined) {
    const traces = Array.isArray(figureOf(o).data) ? figureOf(o).data : [];
    if (e.traces !== undefined && traces.length !== e.traces) return false;
    if (e.names !== undefined && JSON.stringify(traces.map((t) => t?.name ?? null)) !== JSON.stringify(e.names)) return false;
  }
  const t = outputText(o);
  if (e.text !== undefined && t.trimEnd() !== e.text.trimEnd()) return false;
  if (e.contains !== undefined && !t.includes(e.contains)) return false;
  if (e.match !== undefined && !new RegExp(e.match).test(t)) return false;
  return true;
}

/** `execute_result in c35: text = "tensor(190.)"` */
function describeExpectation(e) {
  const f = [];
  if (e.name) f.push(e.name);
  if (e.ename) f.push(e.ename);
  if (e.mime) f.push(`with ${e.mime}`);
  if (e.traces !== undefined) f.push(`${e.traces} trace${e.traces === 1 ? '' : 's'}`);
  if (e.names) f.push(`named ${JSON.stringify(e.names)}`);
  if (e.text !== undefined) f.push(`text = ${JSON.stringify(short(e.text))}`);
  if (e.contains !== undefined) f.push(`containing ${JSON.stringify(short(e.contains))}`);
  if (e.match !== undefined) f.push(`matching /${e.match}/`);
  const n = e.count === undefined ? '' : e.count === 0 ? 'no ' : `${e.count}× `;
  const d = e.description ? ` (${e.description})` : '';
  return `${n}${e.kind}${e.cell ? ` in ${e.cell}` : ''}${f.length ? ': ' + f.join(', ') : ''}${d}`;
}

function short(s, n = 80) {
  const one = String(s);
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

function where(list) {
  if (!list.length) return '';
  const labels = [...new Set(list.map(cellLabel))];
  return labels.length <= 3 ? labels.join(', ') : `${labels.slice(0, 3).join(', ')} and ${labels.length - 3} more`;
}

/**
 * Checks an executed notebook. `golden` is the parsed golden file, or null when there is none.
 * Returns { name, schedule, golden (path or null), results: [{ ok, kind, what, detail, where, value?, band? }],
 *           checks: [{ name, value, band, ok, where }], passed, failed, stoppedAt }.
 */
function checkNotebook(nb, golden, opts = {}) {
  const name = opts.name ?? 'notebook';
  const schedule = opts.schedule ?? nb.metadata?.d2l?.schedule ?? 'full';
  const results = [];
  const add = (r) => results.push({ where: '', detail: '', ...r });

  // 1. schema
  const schemaErrors = validateNotebook(nb);
  add({ ok: !schemaErrors.length, kind: 'schema', what: 'valid nbformat 4.5', detail: schemaErrors.slice(0, 5).join('; ') });

  // 2. cells
  const cells = codeCells(nb);
  const runnable = cells.filter((c) => isExecutable(c.cell));
  let stoppedAt = null;
  const errors = [];
  for (const c of runnable) {
    const err = (c.cell.outputs ?? []).find((o) => o.output_type === 'error');
    if (err && !(c.cell.metadata?.tags ?? []).includes('raises-exception')) errors.push({ c, err });
  }
  for (const { c, err } of errors) {
    add({ ok: false, kind: 'error', what: `error ${err.ename}: ${short(err.evalue, 200)}`, where: cellLabel(c) });
  }
  const notRun = runnable.filter((c) => c.cell.execution_count == null);
  if (notRun.length) {
    stoppedAt = errors.length ? cellLabel(errors[errors.length - 1].c) : null;
    add({ ok: false, kind: 'cells', what: `${notRun.length} of ${runnable.length} code cells did not run`, detail: stoppedAt ? `the run stopped at ${stoppedAt}` : '', where: where(notRun) });
  } else if (!errors.length) {
    add({ ok: true, kind: 'cells', what: `${runnable.length} code cells ran without errors` });
  }
  const stopped = stoppedAt ? ` (the run stopped at ${stoppedAt})` : notRun.length ? ' (not every cell ran)' : '';

  // 3. checks
  const markers = findMarkers(nb);
  const specs = golden?.checks ?? {};
  const checks = [];
  for (const [cname, spec] of Object.entries(specs)) {
    const band = bandFor(spec, schedule);
    const bandText = describeBand(band);
    const found = markers.filter((m) => m.name === cname);
    if (!found.length) {
      if (spec.optional) continue;
      add({ ok: false, kind: 'check', what: `check ${cname} ${bandText}`, detail: `missing: no d2l.check('${cname}', …) output${stopped}`, band: bandText });
      checks.push({ name: cname, value: undefined, band: bandText, ok: false, where: '', detail: 'missing' });
      continue;
    }
    for (const m of found) {
      const why = bandViolation(m.value, band);
      const r = { ok: !why, kind: 'check', what: `check ${cname} = ${fmtNum(m.value)} ${bandText}`, detail: why ?? '', where: cellLabel(m.where), value: m.value, band: bandText };
      add(r);
      checks.push({ name: cname, value: m.value, band: bandText, ok: r.ok, where: r.where, detail: r.detail });
    }
  }
  for (const m of markers.filter((m) => !(m.name in specs))) {
    add({ ok: false, kind: 'check', what: `check ${m.name} = ${fmtNum(m.value)}`, detail: golden ? 'no band for it in the golden file' : 'no golden file', where: cellLabel(m.where), value: m.value });
    checks.push({ name: m.name, value: m.value, band: '', ok: false, where: cellLabel(m.where), detail: 'no band' });
  }

  // 4. outputs
  for (const e of golden?.outputs ?? []) {
    if (e.schedule && e.schedule !== schedule) continue;
    const what = describeExpectation(e);
    let scope = cells;
    if (e.cell !== undefined) {
      scope = cells.filter((c) => c.cell.id === e.cell || (c.cell.metadata?.tags ?? []).includes(e.cell));
      if (!scope.length) {
        add({ ok: false, kind: 'output', what, detail: `no code cell has id or tag "${e.cell}"` });
        continue;
      }
    }
    const hits = [];
    for (const c of scope) for (const o of mergedOutputs(c.cell)) if (outputMatches(o, e)) hits.push(c);
    const ok = e.count === undefined ? hits.length > 0 : hits.length === e.count;
    let detail = '';
    if (!ok) {
      detail = `found ${hits.length}${e.count === undefined ? ', expected at least 1' : `, expected ${e.count}`}`;
      // Show what the selected cells did produce, so the message names the value.
      const seen = scope.flatMap((c) => mergedOutputs(c.cell).filter((o) => KIND_TEST[e.kind](o)).map((o) => ({ c, o })));
      if (e.cell !== undefined && seen.length) {
        detail += `; got ${seen.slice(0, 3).map(({ o }) => e.kind === 'plot' ? `${(figureOf(o).data ?? []).length} traces` : JSON.stringify(short(outputText(o), 160))).join(', ')}`;
      } else if (e.cell !== undefined) {
        detail += `; the cell has no ${e.kind} output`;
      }
      if (stopped) detail += stopped;
    }
    add({ ok, kind: 'output', what, detail, where: ok ? where(hits) : e.cell !== undefined ? where(scope) : '' });
  }

  const failed = results.filter((r) => !r.ok).length;
  return { name, schedule, results, checks, passed: results.length - failed, failed, stoppedAt };
}

/** Loads the golden file for an executed notebook file and checks it. */
function checkFile(nbFile, opts = {}) {
  const nb = readNotebook(nbFile);
  const goldenFile = opts.goldenFile ?? goldenPathFor(nb, nbFile, opts.goldenDir);
  const name = nb.metadata?.d2l?.golden && !opts.name ? `${notebookName(nbFile)} [golden ${nb.metadata.d2l.golden}]` : opts.name ?? notebookName(nbFile);
  let golden = null;
  if (fs.existsSync(goldenFile)) golden = loadGolden(goldenFile);
  else if (!opts.allowMissing) {
    return { name, schedule: opts.schedule ?? nb.metadata?.d2l?.schedule ?? 'full', golden: null, checks: [], passed: 0, failed: 1, stoppedAt: null,
      results: [{ ok: false, kind: 'golden', what: `no golden file ${path.relative(process.cwd(), goldenFile)}`, detail: '', where: '' }] };
  }
  const res = checkNotebook(nb, golden, { ...opts, name });
  res.golden = golden ? goldenFile : null;
  return res;
}

/** The text report of one result: one line per check, then `NAME: P passed, F failed`. */
function formatResult(res) {
  const lines = [`${res.name} (schedule ${res.schedule}${res.golden ? `, golden ${path.relative(process.cwd(), res.golden)}` : ', no golden file'})`];
  for (const r of res.results) {
    let line = `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.what}`;
    if (r.where) line += `  [${r.where}]`;
    if (r.detail) line += `: ${r.detail}`;
    lines.push(line);
  }
  lines.push(`${res.name}: ${res.passed} passed, ${res.failed} failed`);
  return lines.join('\n');
}

/** One-line failure messages naming notebook, cell and value (for the runner's summary). */
function failureMessages(res) {
  return res.results.filter((r) => !r.ok).map((r) => `${res.name}${r.where ? ' ' + r.where : ''}: ${r.what}${r.detail ? ' — ' + r.detail : ''}`);
}

function main(argv) {
  const opts = { allowMissing: false };
  const notebooks = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--golden-dir') opts.goldenDir = path.resolve(argv[++i]);
    else if (a === '--schedule') opts.schedule = argv[++i];
    else if (a === '--allow-missing') opts.allowMissing = true;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') { console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 20).join('\n')); return 0; }
    else if (a.startsWith('-')) { console.error(`check-golden: unknown option ${a}`); return 2; }
    else if (a.endsWith('.json')) opts.goldenFile = path.resolve(a);
    else notebooks.push(a);
  }
  if (!notebooks.length) { console.error('usage: check-golden.js EXECUTED.ipynb [GOLDEN.json] [--golden-dir DIR] [--schedule full|short] [--allow-missing] [--json]'); return 2; }
  if (opts.goldenFile && notebooks.length > 1) { console.error('check-golden: a golden file can be given for one notebook only'); return 2; }
  if (opts.schedule && !['full', 'short'].includes(opts.schedule)) { console.error('check-golden: --schedule is full or short'); return 2; }
  const all = [];
  for (const f of notebooks) {
    try {
      all.push(checkFile(f, opts));
    } catch (e) {
      console.error(`check-golden: ${e.message}`);
      return 2;
    }
  }
  const passed = all.reduce((s, r) => s + r.passed, 0);
  const failed = all.reduce((s, r) => s + r.failed, 0);
  if (json) console.log(JSON.stringify(all, null, 1));
  else {
    for (const r of all) console.log(formatResult(r));
    if (all.length > 1) console.log(`${passed} passed, ${failed} failed`);
  }
  return failed ? 1 : 0;
}

module.exports = {
  CHECK_MIME, PLOTLY_MIME, GOLDEN_DIR, GOLDEN_SCHEMA, validateGolden, loadGolden, goldenPathFor, checkNotebook, checkFile,
  formatResult, failureMessages, describeBand, bandViolation, bandFor, findMarkers, fmtNum,
};

if (require.main === module) process.exitCode = main(process.argv.slice(2));
