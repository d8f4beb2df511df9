/**
 * Markdown cells for the report's built-in renderer (used when nbconvert is absent): CommonMark + GFM tables
 * with markdown-it, and TeX math with temml to MathML, which browsers draw natively, so a page needs no script,
 * font or network for its formulas.
 *
 * Math is taken out before markdown-it runs and put back after, as Jupyter's own front ends do
 * (notebook's `mathjaxutils.remove_math` / `replace_math`): otherwise markdown reads the `_` and `*` of TeX as
 * emphasis and `\\` as escapes. Delimiters: `$$…$$` (display, may span lines) and `$…$` (inline, on one
 * paragraph; as in pandoc, `$` followed by a space or a closing `$` followed by a digit is a dollar sign, so
 * "costs $5 and $6" stays text). Code spans and fenced code blocks are left alone, and `\$` is a literal `$`.
 * @module
 */
import MarkdownIt from 'markdown-it';
import temml from 'temml';

/** Raw HTML in markdown stays text: a report page shows what the notebook says, it does not run it. */
const md = new MarkdownIt({ html: false });

/** A formula taken out of the markdown, and where it goes back (`\uE000n\uE001`, private-use characters). */
interface Formula {
  tex: string;
  display: boolean;
}
const OPEN = '\uE000';
const CLOSE = '\uE001';
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Replaces the math of `src` by placeholders that markdown-it passes through unchanged.
 * Returns the markdown to render and the formulas, in placeholder order.
 */
export function extractMath(src: string): { text: string; math: Formula[] } {
  const math: Formula[] = [];
  const put = (tex: string, display: boolean) => `${OPEN}${math.push({ tex, display }) - 1}${CLOSE}`;
  // Fenced code blocks are copied as they are; the rest is scanned in runs between fences.
  const out: string[] = [];
  let prose: string[] = [];
  let fence: string | undefined;
  const flush = () => {
    if (prose.length) out.push(scanProse(prose.join('\n'), put));
    prose = [];
  };
  for (const line of src.split('\n')) {
    const f = FENCE.exec(line)?.[1];
    if (fence !== undefined) {
      out.push(line);
      if (f && f[0] === fence[0] && f.length >= fence.length && line.trim() === f) fence = undefined;
    } else if (f) {
      flush();
      fence = f;
      out.push(line);
    } else prose.push(line);
  }
  flush();
  return { text: out.join('\n'), math };
}

/** Math out of text without fences: skips code spans and `\` escapes, takes `$$…$$` and `$…$`. */
function scanProse(s: string, put: (tex: string, display: boolean) => string): string {
  let res = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '\\') {
      res += s.slice(i, i + 2);
      i += 2;
    } else if (ch === '`') {
      // A code span: a run of n backticks up to the next run of exactly n (else the run is literal).
      let n = 1;
      while (s[i + n] === '`') n++;
      const run = '`'.repeat(n);
      let j = s.indexOf(run, i + n);
      while (j >= 0 && s[j + n] === '`') {
        let k = j;
        while (s[k] === '`') k++;
        j = s.indexOf(run, k);
      }
      const end = j >= 0 ? j + n : i + n;
      res += s.slice(i, end);
      i = end;
    } else if (ch === '$' && s[i + 1] === '$') {
      const j = s.indexOf('$$', i + 2);
      if (j < 0 || !s.slice(i + 2, j).trim()) {
        res += '$$';
        i += 2;
      } else {
        res += put(s.slice(i + 2, j).trim(), true);
        i = j + 2;
      }
    } else if (ch === '$') {
      const j = inlineEnd(s, i);
      if (j < 0) {
        res += '$';
        i += 1;
      } else {
        res += put(s.slice(i + 1, j), false);
        i = j + 1;
      }
    } else {
      res += ch;
      i += 1;
    }
  }
  return res;
}

/** The closing `$` of inline math opened at `i`, or -1 when this `$` is a dollar sign. */
function inlineEnd(s: string, i: number): number {
  if (/\s/.test(s[i + 1] ?? ' ')) return -1;
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '\n' && /^\n[ \t]*\n/.test(s.slice(j))) return -1; // math does not cross paragraphs
    else if (s[j] === '$') return j > i + 1 && !/\s/.test(s[j - 1]) && !/\d/.test(s[j + 1] ?? '') ? j : -1;
  }
  return -1;
}

/** MathML for one formula; a TeX error shows the source in red instead of failing the page. */
function renderFormula(f: Formula): string {
  return temml.renderToString(f.tex, { displayMode: f.display, throwOnError: false });
}

/** A markdown cell's source as HTML: markdown with its math as MathML. */
export function renderMarkdown(src: string): string {
  const { text, math } = extractMath(src);
  const html = md.render(text);
  const at = (n: string) => renderFormula(math[Number(n)]);
  // Display math alone in a paragraph replaces the paragraph (no <p> margins around a block formula).
  return html
    .replace(new RegExp(`<p>${OPEN}(\\d+)${CLOSE}</p>`, 'g'), (_, n) => at(n))
    .replace(new RegExp(`${OPEN}(\\d+)${CLOSE}`, 'g'), (_, n) => at(n));
}
