/**
 * The golden checker's rules (runner/golden.ts documents the golden-file format and runs them): bands of checked
 * values, check markers, output expectations, and {@link checkNotebook}, which applies them in the documented
 * order (schema, cells, checks, outputs) to one executed notebook.
 * @module
 */
import { CHECK_MIME } from '../common/mime';
import {
  cellLabel, codeCells, isExecutable, plotlyFigure, PLOTLY_MIME, text, validateNotebook, type Cell, type CodeCell, type Notebook,
} from './notebook';
import type { Band, CheckSpec, Expectation, Golden } from './golden';

const IMAGE_MIMES = ['image/png', 'image/jpeg', 'image/svg+xml'];

/** One line of the report: a check that passed or failed. */
export interface CheckLine {
  ok: boolean;
  kind: string;
  what: string;
  detail: string;
  where: string;
  value?: unknown;
  band?: string;
}
/** One reported value against its band (the report's "checked values" column). */
export interface ValueCheck {
  name: string;
  value: unknown;
  band: string;
  ok: boolean;
  where: string;
  detail?: string;
}
/** The result of checking one notebook. */
export interface NotebookCheck {
  name: string;
  schedule: string;
  /** The golden file's path, or null when there is none (set by checkFile and the runner). */
  golden?: string | null;
  results: CheckLine[];
  checks: ValueCheck[];
  passed: number;
  failed: number;
  stoppedAt: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Bands

/** Short number text: 0.8312, 190, 5.1e-5. */
export function fmtNum(v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const p = Number(v.toPrecision(6));
  return (p !== 0 && (Math.abs(p) < 1e-3 || Math.abs(p) >= 1e6) ? p.toExponential() : String(p)).replace('e+', 'e');
}

/** `>= 0.8`, `in [3e-5, 1e-4]`, `== 190 ± 1e-6`. */
export function describeBand(b: Band): string {
  const parts: string[] = [];
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
export function bandViolation(value: unknown, b: Band): string | null {
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

const BAND_KEYS = ['min', 'max', 'equals', 'abs', 'rel'] as const;

/** The band that applies under `schedule` (the `short` band replaces the full one). */
export function bandFor(spec: CheckSpec, schedule: string): Band {
  const src: Band = schedule === 'short' && spec.short ? spec.short : spec;
  const b: Band = {};
  for (const k of BAND_KEYS) if (src[k] !== undefined) b[k] = src[k];
  return b;
}

function markerValue(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v;
}

/** Every check marker in the notebook, in output order. */
export function findMarkers(nb: Notebook): { name: string; value: unknown; where: CodeCell }[] {
  const markers = [];
  for (const c of codeCells(nb)) {
    for (const out of c.cell.outputs ?? []) {
      const m = out.data?.[CHECK_MIME];
      if (m && typeof m === 'object') markers.push({ name: String(m.name), value: markerValue(m.value), where: c });
    }
  }
  return markers;
}

// ---------------------------------------------------------------------------------------------------------
// Output expectations

const isBundle = (o: any) => o.output_type === 'display_data' || o.output_type === 'execute_result';
const KIND_TEST: Record<Expectation['kind'], (o: any) => boolean> = {
  execute_result: (o) => o.output_type === 'execute_result',
  display_data: (o) => o.output_type === 'display_data' && !(CHECK_MIME in (o.data ?? {})),
  stream: (o) => o.output_type === 'stream',
  error: (o) => o.output_type === 'error',
  plot: (o) => isBundle(o) && PLOTLY_MIME in (o.data ?? {}),
  image: (o) => isBundle(o) && IMAGE_MIMES.some((m) => m in (o.data ?? {})),
};

/**
 * A cell's outputs with consecutive streams of the same name joined, as nbclient's coalesce_streams does:
 * nbconvert keeps each flushed chunk of console output as its own output while `d2l-ts lessons` merges
 * them, and both clients must pass the same expectations.
 */
function mergedOutputs(cell: Cell): any[] {
  const merged: any[] = [];
  for (const o of cell.outputs ?? []) {
    const last = merged[merged.length - 1];
    if (o.output_type === 'stream' && last?.output_type === 'stream' && last.name === o.name) {
      merged[merged.length - 1] = { ...last, text: text(last.text) + text(o.text) };
    } else merged.push(o);
  }
  return merged;
}

/** The text an expectation's text/contains/match look at. */
function outputText(o: any): string {
  if (o.output_type === 'stream') return text(o.text);
  if (o.output_type === 'error') return `${o.ename}: ${o.evalue}`;
  return text(o.data?.['text/plain']);
}

const tracesOf = (o: any): any[] => {
  const data = plotlyFigure(o.data).data;
  return Array.isArray(data) ? data : [];
};

function outputMatches(o: any, e: Expectation): boolean {
  if (!KIND_TEST[e.kind](o)) return false;
  if (e.name !== undefined && o.name !== e.name) return false;
  if (e.ename !== undefined && o.ename !== e.ename) return false;
  if (e.mime !== undefined && !(e.mime in (o.data ?? {}))) return false;
  if (e.traces !== undefined && tracesOf(o).length !== e.traces) return false;
  if (e.names !== undefined && JSON.stringify(tracesOf(o).map((t) => t?.name ?? null)) !== JSON.stringify(e.names)) return false;
  const t = outputText(o);
  if (e.text !== undefined && t.trimEnd() !== e.text.trimEnd()) return false;
  if (e.contains !== undefined && !t.includes(e.contains)) return false;
  if (e.match !== undefined && !new RegExp(e.match).test(t)) return false;
  return true;
}

/** `execute_result in c35: text = "tensor(190.)"` */
function describeExpectation(e: Expectation): string {
  const f: string[] = [];
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

function short(s: unknown, n = 80): string {
  const one = String(s);
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

function where(list: CodeCell[]): string {
  if (!list.length) return '';
  const labels = [...new Set(list.map(cellLabel))];
  return labels.length <= 3 ? labels.join(', ') : `${labels.slice(0, 3).join(', ')} and ${labels.length - 3} more`;
}

// ---------------------------------------------------------------------------------------------------------
// The check

/**
 * Checks an executed notebook. `golden` is the parsed golden file, or null when there is none.
 * opts.schedule: which bands apply (default: the notebook's metadata.d2l.schedule, else full).
 */
export function checkNotebook(nb: Notebook, golden: Golden | null, opts: { name?: string; schedule?: string } = {}): NotebookCheck {
  const name = opts.name ?? 'notebook';
  const schedule = opts.schedule ?? nb.metadata?.d2l?.schedule ?? 'full';
  const results: CheckLine[] = [];
  const add = (r: Partial<CheckLine> & Pick<CheckLine, 'ok' | 'kind' | 'what'>) => results.push({ where: '', detail: '', ...r });

  // 1. schema
  const schemaErrors = validateNotebook(nb);
  add({ ok: !schemaErrors.length, kind: 'schema', what: 'valid nbformat 4.5', detail: schemaErrors.slice(0, 5).join('; ') });

  // 2. cells
  const cells = codeCells(nb);
  const runnable = cells.filter((c) => isExecutable(c.cell));
  let stoppedAt: string | null = null;
  const errors: { c: CodeCell; err: any }[] = [];
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
  const checks: ValueCheck[] = [];
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
    const hits: CodeCell[] = [];
    for (const c of scope) for (const o of mergedOutputs(c.cell)) if (outputMatches(o, e)) hits.push(c);
    const ok = e.count === undefined ? hits.length > 0 : hits.length === e.count;
    let detail = '';
    if (!ok) {
      detail = `found ${hits.length}${e.count === undefined ? ', expected at least 1' : `, expected ${e.count}`}`;
      // Show what the selected cells did produce, so the message names the value.
      const seen = scope.flatMap((c) => mergedOutputs(c.cell).filter((o) => KIND_TEST[e.kind](o)));
      if (e.cell !== undefined && seen.length) {
        detail += `; got ${seen.slice(0, 3).map((o) => e.kind === 'plot' ? `${tracesOf(o).length} traces` : JSON.stringify(short(outputText(o), 160))).join(', ')}`;
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
