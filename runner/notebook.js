// Notebook files the way Python's nbformat reads, writes and validates them, without Python:
// - readNotebook: JSON → notebook with multi-line strings joined (nbformat `rejoin_lines`), upgraded to 4.5;
// - serializeNotebook / writeNotebook: nbformat's `writes` (split lines, strip transient keys, sorted keys,
//   indent 1, no ASCII escaping, trailing newline), so out/*.ipynb diff cleanly against nbconvert's;
// - validateNotebook: the nbformat v4.5 JSON schema (vendored next to this file, BSD-3, see
//   nbformat.v4.5.schema.LICENSE) compiled with ajv;
// - small accessors shared by the runner, the golden checker and the report.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const SCHEMA_FILE = path.join(__dirname, 'nbformat.v4.5.schema.json');

/** nbformat `_is_json_mime`: JSON mime types keep structured values. */
const isJsonMime = (mime) => mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));

/** A multi-line string field (string or list of lines) as one string. */
const text = (v) => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : v == null ? '' : String(v));

// Python's str.splitlines(True): every line keeps its terminator; these are all line boundaries.
const LINE = /[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])|[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+$/g;
function splitLines(s) {
  return s.match(LINE) ?? [];
}

function rejoinBundle(data) {
  for (const [k, v] of Object.entries(data ?? {})) {
    if (!isJsonMime(k) && Array.isArray(v) && v.every((x) => typeof x === 'string')) data[k] = v.join('');
  }
}

function splitBundle(data) {
  for (const [k, v] of Object.entries(data ?? {})) {
    if (typeof v === 'string' && (k.startsWith('text/') || k === 'application/javascript' || k === 'image/svg+xml')) data[k] = splitLines(v);
  }
}

/** nbformat `rejoin_lines` (in place). */
function rejoinLines(nb) {
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
function splitNotebookLines(nb) {
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
function stripTransient(nb) {
  if (nb.metadata) for (const k of ['orig_nbformat', 'orig_nbformat_minor', 'signature']) delete nb.metadata[k];
  for (const cell of nb.cells ?? []) if (cell.metadata) delete cell.metadata.trusted;
  return nb;
}

/** Deep copy with object keys sorted (json.dumps(sort_keys=True)). */
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

/**
 * nbformat v4 upgrade to minor 5 (nbformat.v4.convert.upgrade): cells get random ids, as Jupyter does
 * when it saves an older 4.x notebook. Notebooks in this repository are 4.5 already.
 */
function upgradeTo45(nb) {
  if (nb.nbformat !== 4) throw new Error(`nbformat ${nb.nbformat} is not supported (need 4)`);
  if ((nb.nbformat_minor ?? 0) < 5) {
    for (const cell of nb.cells) if (!cell.id) cell.id = crypto.randomBytes(4).toString('hex');
    nb.nbformat_minor = 5;
  }
  return nb;
}

/** Parses notebook JSON text: multi-line strings joined, upgraded to nbformat 4.5. */
function parseNotebook(json) {
  const nb = JSON.parse(json);
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells)) throw new Error('not a notebook (no cells array)');
  return upgradeTo45(rejoinLines(nb));
}

function readNotebook(file) {
  try {
    return parseNotebook(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
}

/** nbformat.writes(nb) + the trailing newline nbformat.write adds. Does not modify `nb`. */
function serializeNotebook(nb) {
  const copy = stripTransient(splitNotebookLines(JSON.parse(JSON.stringify(nb))));
  return JSON.stringify(sortKeys(copy), null, 1) + '\n';
}

function writeNotebook(file, nb) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, serializeNotebook(nb));
}

let validator;
/** The compiled nbformat v4.5 schema (draft-04; the keywords it uses mean the same in ajv's draft-07). */
function nbformatValidator() {
  if (!validator) {
    const Ajv = require('ajv');
    const { $schema, ...schema } = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
    validator = new Ajv({ strict: false, allErrors: true }).compile(schema);
  }
  return validator;
}

/**
 * Validates a notebook (object, as read from disk or in memory) against the nbformat v4.5 schema.
 * Returns [] when valid, else readable messages (`/cells/3/outputs/0: must have required property 'name'`).
 */
function validateNotebook(nb) {
  if (nb?.nbformat !== 4 || nb?.nbformat_minor !== 5) return [`nbformat ${nb?.nbformat}.${nb?.nbformat_minor}: the vendored schema is v4.5`];
  const validate = nbformatValidator();
  if (validate(nb)) return [];
  return formatAjvErrors(validate.errors);
}

/** ajv errors as `path: message` lines (oneOf noise folded). */
function formatAjvErrors(errors) {
  const seen = new Set();
  const lines = [];
  for (const e of errors ?? []) {
    const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : '';
    const line = `${e.instancePath || '/'}: ${e.message}${extra}`;
    if (!seen.has(line)) { seen.add(line); lines.push(line); }
  }
  return lines.slice(0, 20);
}

/** The code cells with their 1-based position among code cells (the "cell j/m" the runner shows). */
function codeCells(nb) {
  const out = [];
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type === 'code') out.push({ cell, index, pos: out.length + 1 });
  });
  return out;
}

/** `cell 19 (In[19], id c35)`: position among code cells, execution count, cell id. */
function cellLabel(c) {
  const parts = [`In[${c.cell.execution_count ?? ' '}]`];
  if (c.cell.id) parts.push(`id ${c.cell.id}`);
  return `cell ${c.pos} (${parts.join(', ')})`;
}

/** Whether nbclient would execute this cell (it skips empty cells and the `skip-execution` tag). */
function isExecutable(cell) {
  return cell.cell_type === 'code' && text(cell.source).trim() !== '' && !(cell.metadata?.tags ?? []).includes('skip-execution');
}

/** `05-linear-algebra` from `out/05-linear-algebra.ipynb` or `05-linear-algebra.nbconvert.ipynb`. */
function notebookName(file) {
  return path.basename(file).replace(/\.ipynb$/, '').replace(/\.(nbconvert|executed)$/, '');
}

module.exports = {
  SCHEMA_FILE, isJsonMime, text, splitLines, rejoinLines, splitNotebookLines, stripTransient, sortKeys, upgradeTo45,
  parseNotebook, readNotebook, serializeNotebook, writeNotebook, validateNotebook, formatAjvErrors, codeCells, cellLabel,
  isExecutable, notebookName,
};
