/**
 * Notebook files the way Python's nbformat reads, writes and validates them, without Python:
 * - readNotebook: JSON → notebook with multi-line strings joined (nbformat `rejoin_lines`), upgraded to 4.5;
 * - serializeNotebook / writeNotebook: nbformat's `writes` (split lines, strip transient keys, sorted keys,
 *   indent 1, no ASCII escaping, trailing newline), so out/*.ipynb diff cleanly against nbconvert's;
 * - validateNotebook: the nbformat v4.5 JSON schema (vendored next to this file, BSD-3, see
 *   nbformat.v4.5.schema.LICENSE) compiled with ajv;
 * - small accessors shared by the runner, the golden checker and the report.
 * @module
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/** The vendored schema; `npm run build` copies it next to dist/runner/notebook.js. */
export const SCHEMA_FILE = path.join(__dirname, 'nbformat.v4.5.schema.json');

/** A notebook cell as read from disk: loosely typed, since it is validated against the schema, not trusted. */
export interface Cell {
  id?: string;
  cell_type: string;
  source: string | string[];
  metadata: Record<string, any>;
  /** Code cells: nbformat outputs (runner/outputs.ts types them; files may hold anything). */
  outputs?: any[];
  execution_count?: number | null;
  attachments?: Record<string, Record<string, unknown>>;
}

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, any>;
  cells: Cell[];
}

/** A code cell with its place: index in `cells`, and `pos`, its 1-based position among code cells. */
export interface CodeCell {
  cell: Cell;
  index: number;
  pos: number;
}

/** nbformat `_is_json_mime`: JSON mime types keep structured values. */
export const isJsonMime = (mime: string): boolean =>
  mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));

/** lib/display/plot.ts figures: `{ data, layout, config }` (the golden checker counts traces, the report draws them). */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** The plotly figure of a mime bundle (JSON, or JSON text as some writers store it); `{}` when there is none. */
export function plotlyFigure(data: Record<string, unknown> | undefined): { data?: unknown; layout?: Record<string, any>; config?: Record<string, unknown> } {
  let fig = data?.[PLOTLY_MIME];
  if (typeof fig === 'string') {
    try { fig = JSON.parse(fig); } catch { fig = undefined; }
  }
  return fig && typeof fig === 'object' ? fig : {};
}

/** A multi-line string field (string or list of lines) as one string. */
export const text = (v: unknown): string =>
  Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : v == null ? '' : String(v);

// Python's str.splitlines(True): every line keeps its terminator; these are all line boundaries.
const LINE = /[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+$/g;
export function splitLines(s: string): string[] {
  return s.match(LINE) ?? [];
}

function rejoinBundle(data: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(data ?? {})) {
    if (!isJsonMime(k) && Array.isArray(v) && v.every((x) => typeof x === 'string')) data![k] = v.join('');
  }
}

function splitBundle(data: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(data ?? {})) {
    if (typeof v === 'string' && (k.startsWith('text/') || k === 'application/javascript' || k === 'image/svg+xml')) data![k] = splitLines(v);
  }
}

/** nbformat `rejoin_lines` (in place). */
export function rejoinLines<T extends Notebook>(nb: T): T {
  for (const cell of nb.cells ?? []) {
    if (Array.isArray(cell.source)) cell.source = cell.source.join('');
    for (const att of Object.values(cell.attachments ?? {})) rejoinBundle(att);
    if (cell.cell_type === 'code') {
      for (const out of cell.outputs ?? []) {
        if (out.output_type === 'execute_result' || out.output_type === 'display_data') rejoinBundle(out.data);
        else if (Array.isArray(out.text)) out.text = out.text.join('');
      }
    }
  }
  return nb;
}

/** nbformat `split_lines` (in place). */
export function splitNotebookLines<T extends Notebook>(nb: T): T {
  for (const cell of nb.cells ?? []) {
    if (typeof cell.source === 'string') cell.source = splitLines(cell.source);
    for (const att of Object.values(cell.attachments ?? {})) splitBundle(att);
    if (cell.cell_type === 'code') {
      for (const out of cell.outputs ?? []) {
        if (out.output_type === 'execute_result' || out.output_type === 'display_data') splitBundle(out.data);
        else if (out.output_type === 'stream' && typeof out.text === 'string') out.text = splitLines(out.text);
      }
    }
  }
  return nb;
}

/** nbformat `strip_transient` (in place). */
export function stripTransient<T extends Notebook>(nb: T): T {
  if (nb.metadata) for (const k of ['orig_nbformat', 'orig_nbformat_minor', 'signature']) delete nb.metadata[k];
  for (const cell of nb.cells ?? []) if (cell.metadata) delete cell.metadata.trusted;
  return nb;
}

/** Deep copy with object keys sorted (json.dumps(sort_keys=True)). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const src = v as Record<string, unknown>;
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort()) if (src[k] !== undefined) o[k] = sortKeys(src[k]);
    return o;
  }
  return v;
}

/**
 * nbformat v4 upgrade to minor 5 (nbformat.v4.convert.upgrade): cells get random ids, as Jupyter does
 * when it saves an older 4.x notebook. Notebooks in this repository are 4.5 already.
 */
export function upgradeTo45<T extends Notebook>(nb: T): T {
  if (nb.nbformat !== 4) throw new Error(`nbformat ${nb.nbformat} is not supported (need 4)`);
  if ((nb.nbformat_minor ?? 0) < 5) {
    for (const cell of nb.cells) if (!cell.id) cell.id = crypto.randomBytes(4).toString('hex');
    nb.nbformat_minor = 5;
  }
  return nb;
}

/** Parses notebook JSON text: multi-line strings joined, upgraded to nbformat 4.5. */
export function parseNotebook(json: string): Notebook {
  const nb = JSON.parse(json);
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells)) throw new Error('not a notebook (no cells array)');
  return upgradeTo45(rejoinLines(nb as Notebook));
}

export function readNotebook(file: string): Notebook {
  try {
    return parseNotebook(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** nbformat.writes(nb) + the trailing newline nbformat.write adds. Does not modify `nb`. */
export function serializeNotebook(nb: Notebook): string {
  const copy = stripTransient(splitNotebookLines(JSON.parse(JSON.stringify(nb)) as Notebook));
  return JSON.stringify(sortKeys(copy), null, 1) + '\n';
}

export function writeNotebook(file: string, nb: Notebook): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, serializeNotebook(nb));
}

let validator: ValidateFunction | undefined;
/** The compiled nbformat v4.5 schema (draft-04; the keywords it uses mean the same in ajv's draft-07). */
function nbformatValidator(): ValidateFunction {
  if (!validator) {
    const { $schema, ...schema } = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
    validator = new Ajv({ strict: false, allErrors: true }).compile(schema);
  }
  return validator;
}

/**
 * Validates a notebook (object, as read from disk or in memory) against the nbformat v4.5 schema.
 * Returns [] when valid, else readable messages (`/cells/3/outputs/0: must have required property 'name'`).
 */
export function validateNotebook(nb: any): string[] {
  if (nb?.nbformat !== 4 || nb?.nbformat_minor !== 5) return [`nbformat ${nb?.nbformat}.${nb?.nbformat_minor}: the vendored schema is v4.5`];
  const validate = nbformatValidator();
  if (validate(nb)) return [];
  return formatAjvErrors(validate.errors);
}

/** ajv errors as `path: message` lines (oneOf noise folded). */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const e of errors ?? []) {
    const p = e.params as { additionalProperty?: string; allowedValues?: unknown[] };
    const extra = p?.additionalProperty ? ` (${p.additionalProperty})` : p?.allowedValues ? ` (${p.allowedValues.join(', ')})` : '';
    const line = `${e.instancePath || '/'}: ${e.message}${extra}`;
    if (!seen.has(line)) { seen.add(line); lines.push(line); }
  }
  return lines.slice(0, 20);
}

/** The code cells with their 1-based position among code cells (the "cell j/m" the runner shows). */
export function codeCells(nb: Notebook): CodeCell[] {
  const out: CodeCell[] = [];
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type === 'code') out.push({ cell, index, pos: out.length + 1 });
  });
  return out;
}

/** `cell 19 (In[19], id c35)`: position among code cells, execution count, cell id. */
export function cellLabel(c: CodeCell): string {
  const parts = [`In[${c.cell.execution_count ?? ' '}]`];
  if (c.cell.id) parts.push(`id ${c.cell.id}`);
  return `cell ${c.pos} (${parts.join(', ')})`;
}

/** Whether nbclient would execute this cell (it skips empty cells and the `skip-execution` tag). */
export function isExecutable(cell: Cell): boolean {
  return cell.cell_type === 'code' && text(cell.source).trim() !== '' && !(cell.metadata?.tags ?? []).includes('skip-execution');
}

/** `05-linear-algebra` from `out/05-linear-algebra.ipynb` or `05-linear-algebra.nbconvert.ipynb`. */
export function notebookName(file: string): string {
  return path.basename(file).replace(/\.ipynb$/, '').replace(/\.(nbconvert|executed)$/, '');
}
