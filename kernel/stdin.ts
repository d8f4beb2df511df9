/**
 * Asking the person at the notebook for a value: `await input('lr? ')`, the kernel's `input()` (Python's
 * `input()`, raw_input in ipykernel). The kernel sends `input_request` on its stdin socket to the front end
 * that sent the running execute_request and the cell waits for that front end's `input_reply`.
 *
 * Why a promise and not a blocking call: the reply arrives on the same event loop the cell runs on, so a
 * synchronous `prompt()` would wait for a message it can never receive. Cells are async (top-level await),
 * so `await input()` costs the learner one word. `prompt()` exists only to say so.
 *
 * Front ends without a person (nbconvert, the lessons runner) send `allow_stdin: false`; then input() fails at
 * once with StdinNotImplementedError (ipykernel's name) instead of hanging until the cell times out.
 */
import type { Received } from '../jupyter/protocol';

/** What the broker needs from the kernel's protocol side. */
export interface StdinSink {
  /** The execute_request whose cell is running now, if any. */
  running(): Received | undefined;
  /** Sends input_request (parent: `parent`) to `parent`'s sender on the stdin socket; returns its msg_id. */
  request(parent: Received, content: { prompt: string; password: boolean }): string;
}

/** input() when the front end cannot answer (ipykernel raises an exception of the same name). */
export class StdinNotImplementedError extends Error {
  override name = 'StdinNotImplementedError';
}

export const NO_STDIN_MESSAGE =
  'input: this front end does not accept input (allow_stdin is false — nbconvert and the lessons runner run cells without a person)';

export const PROMPT_MESSAGE =
  "prompt() cannot work in a notebook: it would block the event loop that the answer arrives on. Use `await input('question? ')` instead.";

interface Pending {
  prompt: string;
  password: boolean;
  parent: Received;
  /** msg_id of the input_request once it is sent; only the head of the queue is sent. */
  msgId?: string;
  resolve(value: string): void;
  reject(err: Error): void;
}

/**
 * One input_request at a time, as front ends expect (JupyterLab shows one input box per request and answers
 * them in order): a second input() issued while one waits is queued and sent after the first answer.
 */
export class StdinBroker {
  private readonly queue: Pending[] = [];

  constructor(private sink: StdinSink) {}

  /** The cells' `input(prompt, { password })`. */
  input(prompt: unknown = '', opts: { password?: boolean } = {}): Promise<string> {
    const parent = this.sink.running();
    if (!parent) return Promise.reject(new Error('input: no cell is running (call it from a cell and await it)'));
    if (parent.content?.allow_stdin !== true) return Promise.reject(new StdinNotImplementedError(NO_STDIN_MESSAGE));
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ prompt: String(prompt ?? ''), password: !!opts?.password, parent, resolve, reject });
      if (this.queue.length === 1) this.sendHead();
    });
  }

  /**
   * An input_reply from the stdin socket. It answers the waiting request when its parent is that request, or
   * when it names no parent (older front ends leave parent_header empty). Others are late answers to a request
   * that was cancelled (interrupt, end of cell): dropped, so they cannot answer a later input().
   */
  reply(msg: Received): boolean {
    const head = this.queue[0];
    const parentId = msg.parent_header?.msg_id;
    if (!head?.msgId || (parentId && parentId !== head.msgId)) return false;
    this.queue.shift();
    const value = msg.content?.value;
    head.resolve(typeof value === 'string' ? value : String(value ?? ''));
    if (this.queue.length) this.sendHead();
    return true;
  }

  /** Rejects every waiting input() with `err` (interrupt, or the cell ended without waiting for it). */
  cancel(err: Error): void {
    for (const p of this.queue.splice(0)) p.reject(err);
  }

  /** Whether an input() is waiting. */
  get waiting(): boolean {
    return this.queue.length > 0;
  }

  private sendHead(): void {
    const head = this.queue[0];
    try {
      head.msgId = this.sink.request(head.parent, { prompt: head.prompt, password: head.password });
    } catch (e) {
      this.queue.shift();
      head.reject(e instanceof Error ? e : new Error(String(e)));
      if (this.queue.length) this.sendHead();
    }
  }
}

/** An error for input() waits ended by an interrupt; the cell itself ends as KeyboardInterrupt. */
export function inputInterrupted(): Error {
  const e = new Error('input: interrupted while waiting for input');
  e.name = 'KeyboardInterrupt';
  return e;
}

/** The globals `input` and `prompt` for cells (and the lib, through globalThis). */
export function createStdinApi(broker: StdinBroker) {
  return {
    input: (prompt?: unknown, opts?: { password?: boolean }) => broker.input(prompt, opts),
    prompt: (..._args: unknown[]): never => {
      throw new Error(PROMPT_MESSAGE);
    },
  };
}

/** TypeScript declarations of those globals, prepended to every cell with the display ones. */
export const STDIN_DECLARATIONS = `
/**
 * Asks the person at the notebook: shows prompt and resolves with what they typed (the Jupyter stdin channel).
 * With {password: true} the front end hides the typing. Fails at once where nobody can answer (nbconvert, the lessons runner).
 */
declare function input(prompt?: string, opts?: { password?: boolean }): Promise<string>;
/** @deprecated Cannot work in a notebook (it would block the event loop the answer arrives on): use \`await input(question)\`. */
declare function prompt(message?: string, _default?: string): never;
`;
