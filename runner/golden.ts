/**
 * check-golden: checks an executed lecture notebook against its golden file. The ONE checker for both clients:
 * `d2l-ts lessons` (runner/cli.ts) imports this module and runs it in-process on every notebook it executes;
 * .ci/run runs it as a command (`d2l-ts check-golden`, {@link main}) on the notebooks
 * `jupyter nbconvert --execute` wrote. Both read the same golden files, so both clients must agree.
 *
 *   d2l-ts check-golden EXECUTED.ipynb [GOLDEN.json]      one notebook (golden: see below)
 *   d2l-ts check-golden A.ipynb B.ipynb ...               several, one summary line at the end
 * with the options of USAGE below (`npm run check:golden -- …` is the same command).
 * Prints one line per check (`ok`/`FAIL`, what, the value and its band, the cell) and `NAME: P passed, F failed`
 * per notebook, then `P passed, F failed` over all; exit code 1 when anything failed, 2 on bad usage/golden.
 *
 * What is checked, in order:
 *   1. schema   the notebook is valid nbformat 4.5 (the JSON schema vendored in runner/);
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
 * "plot" is any display_data / execute_result carrying `application/vnd.plotly.v1+json` (lib/display/plot.ts; the final
 * figure after in-place updates); "image" any carrying image/png, image/jpeg or image/svg+xml.
 * The text of an output: text/plain of a bundle, the text of a stream, "ename: evalue" of an error.
 * Example (tests/golden/05-linear-algebra.json):
 *   {"fast": true, "outputs": [{"kind": "execute_result", "cell": "c35", "text": "tensor(190.)"}]}
 * @module
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { type ValidateFunction } from 'ajv';
import { CHECK_MIME } from '../common/mime';
import { checkNotebook, type NotebookCheck } from './golden-check';
import { formatAjvErrors, notebookName, PLOTLY_MIME, readNotebook, type Notebook } from './notebook';
import { ROOT } from './paths';

export { CHECK_MIME, PLOTLY_MIME };
export {
  bandFor, bandViolation, checkNotebook, describeBand, findMarkers, fmtNum, type CheckLine, type NotebookCheck, type ValueCheck,
} from './golden-check';
export const GOLDEN_DIR = path.join(ROOT, 'tests', 'golden');
const KINDS = ['execute_result', 'display_data', 'stream', 'error', 'plot', 'image'] as const;
const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_.-]*$';

export const USAGE = `usage: d2l-ts check-golden EXECUTED.ipynb... [GOLDEN.json] [options]
  GOLDEN.json        the golden file, for one notebook only (default: see --golden-dir)
  --golden-dir DIR   where golden files live (default tests/golden)
  --schedule S       full | short: which bands apply (default: the notebook's metadata.d2l.schedule,
                     written by the runner, else full — nbconvert runs full epochs)
  --allow-missing    a notebook without a golden file is only checked for schema and errors
  --json             print the results as JSON instead of text`;

/** BAND in the header. */
export interface Band {
  min?: number;
  max?: number;
  equals?: number;
  abs?: number;
  rel?: number;
}
export interface CheckSpec extends Band {
  short?: Band;
  optional?: boolean;
  description?: string;
}
/** EXPECTATION in the header. */
export interface Expectation {
  kind: (typeof KINDS)[number];
  cell?: string;
  count?: number;
  text?: string;
  contains?: string;
  match?: string;
  mime?: string;
  traces?: number;
  names?: string[];
  name?: 'stdout' | 'stderr';
  ename?: string;
  schedule?: 'full' | 'short';
  description?: string;
}
/** A parsed, valid golden file. */
export interface Golden {
  $comment?: string;
  description?: string;
  fast?: boolean;
  checks?: Record<string, CheckSpec>;
  outputs?: Expectation[];
}

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
export const GOLDEN_SCHEMA = {
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

let goldenValidator: ValidateFunction | undefined;
/** Validates a parsed golden file; returns [] or messages. Also checks what the schema cannot say. */
export function validateGolden(golden: unknown): string[] {
  goldenValidator ??= new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(GOLDEN_SCHEMA);
  if (!goldenValidator(golden)) return formatAjvErrors(goldenValidator.errors);
  const errors: string[] = [];
  ((golden as Golden).outputs ?? []).forEach((e, i) => {
    const only: Record<string, string[]> = { traces: ['plot'], names: ['plot'], name: ['stream'], ename: ['error'], mime: ['execute_result', 'display_data', 'plot', 'image'] };
    for (const [k, kinds] of Object.entries(only)) if (k in e && !kinds.includes(e.kind)) errors.push(`/outputs/${i}: "${k}" does not apply to kind ${e.kind}`);
    if (e.match !== undefined) {
      try { new RegExp(e.match); } catch (err) { errors.push(`/outputs/${i}/match: ${(err as Error).message}`); }
    }
  });
  return errors;
}

/** Reads and validates a golden file; throws with every problem named. */
export function loadGolden(file: string): Golden {
  let golden: unknown;
  try {
    golden = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`golden file ${file}: ${(e as Error).message}`);
  }
  const errors = validateGolden(golden);
  if (errors.length) throw new Error(`golden file ${file} is invalid:\n  ${errors.join('\n  ')}`);
  return golden as Golden;
}

/** The golden file for an executed notebook: metadata.d2l.golden, else the file name. */
export function goldenPathFor(nb: Notebook, nbFile: string, goldenDir = GOLDEN_DIR): string {
  const name = nb.metadata?.d2l?.golden ?? notebookName(nbFile);
  return path.join(goldenDir, `${name}.json`);
}

// ---------------------------------------------------------------------------------------------------------
// Files and the command

/** Loads the golden file for an executed notebook file and checks it. */
export function checkFile(nbFile: string, opts: CheckFileOptions = {}): NotebookCheck {
  const nb = readNotebook(nbFile);
  const goldenFile = opts.goldenFile ?? goldenPathFor(nb, nbFile, opts.goldenDir);
  const name = nb.metadata?.d2l?.golden && !opts.name ? `${notebookName(nbFile)} [golden ${nb.metadata.d2l.golden}]` : opts.name ?? notebookName(nbFile);
  let golden: Golden | null = null;
  if (fs.existsSync(goldenFile)) golden = loadGolden(goldenFile);
  else if (!opts.allowMissing) {
    return { name, schedule: opts.schedule ?? nb.metadata?.d2l?.schedule ?? 'full', golden: null, checks: [], passed: 0, failed: 1, stoppedAt: null,
      results: [{ ok: false, kind: 'golden', what: `no golden file ${path.relative(process.cwd(), goldenFile)}`, detail: '', where: '' }] };
  }
  const res = checkNotebook(nb, golden, { ...opts, name });
  res.golden = golden ? goldenFile : null;
  return res;
}

export interface CheckFileOptions {
  name?: string;
  schedule?: string;
  goldenDir?: string;
  /** This golden file instead of the one goldenPathFor finds. */
  goldenFile?: string;
  /** A notebook without a golden file is only checked for schema and errors. */
  allowMissing?: boolean;
}

/** The text report of one result: one line per check, then `NAME: P passed, F failed`. */
export function formatResult(res: NotebookCheck): string {
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
export function failureMessages(res: NotebookCheck): string[] {
  return res.results.filter((r) => !r.ok).map((r) => `${res.name}${r.where ? ' ' + r.where : ''}: ${r.what}${r.detail ? ' — ' + r.detail : ''}`);
}

/** `d2l-ts check-golden ARGS`: returns the exit code (0 all passed, 1 something failed, 2 bad usage or golden file). */
export function main(argv: string[]): number {
  const opts: CheckFileOptions = { allowMissing: false };
  const notebooks: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--golden-dir') opts.goldenDir = path.resolve(argv[++i]);
    else if (a === '--schedule') opts.schedule = argv[++i];
    else if (a === '--allow-missing') opts.allowMissing = true;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') { console.log(USAGE); return 0; }
    else if (a.startsWith('-')) { console.error(`check-golden: unknown option ${a}`); return 2; }
    else if (a.endsWith('.json')) opts.goldenFile = path.resolve(a);
    else notebooks.push(a);
  }
  if (!notebooks.length) { console.error(USAGE); return 2; }
  if (opts.goldenFile && notebooks.length > 1) { console.error('check-golden: a golden file can be given for one notebook only'); return 2; }
  if (opts.schedule && !['full', 'short'].includes(opts.schedule)) { console.error('check-golden: --schedule is full or short'); return 2; }
  const all: NotebookCheck[] = [];
  for (const f of notebooks) {
    try {
      all.push(checkFile(f, opts));
    } catch (e) {
      console.error(`check-golden: ${(e as Error).message}`);
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

if (require.main === module) process.exitCode = main(process.argv.slice(2));
