/**
 * The report's built-in markdown renderer (runner/markdown.ts): math is taken out before markdown-it runs, so
 * TeX survives, while code and dollar signs stay text.
 */
import { describe, expect, it } from 'vitest';
import { extractMath, renderMarkdown } from '../../runner/markdown';

describe('report markdown', () => {
  it('takes $…$ and $$…$$ out, and leaves code, escapes and dollar amounts alone', () => {
    const { text, math } = extractMath('a $x_1 * y_2$ b `$c$` \\$d\\$ costs $5 and $6\n\n$$\n\\sum_i a_i\n$$\n\n```\n$e$\n```');
    expect(math).toEqual([{ tex: 'x_1 * y_2', display: false }, { tex: '\\sum_i a_i', display: true }]);
    expect(text).toBe('a \uE0000\uE001 b `$c$` \\$d\\$ costs $5 and $6\n\n\uE0001\uE001\n\n```\n$e$\n```');
  });

  it('does not let inline math cross a paragraph', () => {
    expect(extractMath('$a\n\nb$').math).toEqual([]);
    expect(extractMath('$a\nb$').math).toEqual([{ tex: 'a\nb', display: false }]);
  });

  it('renders markdown and MathML; display math replaces its paragraph; raw HTML stays text', () => {
    const html = renderMarkdown('# T\n\n**b** _i_ `c` $x^2$\n\n$$y$$\n\n<script>x</script>');
    expect(html).toContain('<h1>T</h1>');
    expect(html).toContain('<p><strong>b</strong> <em>i</em> <code>c</code> <math><msup><mi>x</mi>');
    expect(html).toMatch(/\n<math display="block"[^>]*><mi>y<\/mi><\/math>\n/);
    expect(html).toContain('&lt;script&gt;');
  });

  it('shows a TeX error in place instead of failing', () => {
    expect(renderMarkdown('$\\frac{$')).toContain('temml-error');
  });
});
