/**
 * The display conventions the lib, the kernel and the lessons runner share, without depending on each other.
 *
 * An object with a method `[Symbol.for('jupyter.mimebundle')]()` is shown as the mime bundle it returns
 * (`{ 'text/plain': …, 'text/html': … }`, or `{ data, metadata }`). `Symbol.for` makes it the same symbol in
 * every module and package that asks for it, so the lib never needs to import the kernel to be displayed.
 * @module
 */

/** The rich-display method's key. */
export const MIMEBUNDLE: unique symbol = Symbol.for('jupyter.mimebundle') as any;

/** A Jupyter mime bundle: `{ 'text/plain': …, 'text/html': …, 'image/png': base64, … }`. */
export type MimeBundle = Record<string, unknown>;

/** What a rich-display method returns: a bundle, or a bundle with per-mime metadata. */
export type RichContent = MimeBundle | { data: MimeBundle; metadata?: Record<string, unknown> };

/** An object the kernel shows as a mime bundle. */
export interface Displayable {
  [MIMEBUNDLE](): RichContent;
}

/**
 * The mime type of a checked number (`d2l.check('test_acc', acc)` → `{ name, value }`): the lessons runner and
 * the golden checker read it from a notebook's outputs.
 */
export const CHECK_MIME = 'application/vnd.d2l.check+json';
