/**
 * Comms, the Jupyter messaging spec's "Custom messages": a two-way channel between kernel-side and front-end
 * objects, which ipywidgets (the `jupyter.widget` target) is built on. ipykernel's CommManager, in small:
 *  - kernel → front end: `open()` publishes comm_open on iopub; a comm's `send()` / `close()` publish comm_msg /
 *    comm_close, all parented to the request being handled (a cell, or the front-end comm_msg that triggered it);
 *  - front end → kernel (shell): comm_open for a registered target calls its callback (an unknown target is closed
 *    again at once, as ipykernel does), comm_msg goes to the comm's handlers, comm_close forgets the comm;
 *  - comm_info_request lists the open comms (optionally of one target).
 * Handlers run in the kernel's event loop between cells or during an awaiting cell; an error in one goes to the
 * kernel's stderr stream of the current parent and never ends the kernel. The lib reaches this through the hook in
 * common/comm.ts, never by importing the kernel.
 * @module
 */
import { randomUUID } from 'crypto';
import type { CommData, CommHandle, CommHook, WireContent } from '../common/comm';

/** How comm messages leave the kernel (iopub, with the current parent). */
export interface CommSink {
  /** `metadata` is the message's own (top-level) metadata: ipywidgets reads its protocol version there. */
  publish(type: 'comm_open' | 'comm_msg' | 'comm_close', content: Record<string, unknown>, metadata?: Record<string, unknown>): void;
  /** Reports an error raised by a comm handler (shown in the current output). */
  reportError(where: string, e: unknown): void;
}

class Comm implements CommHandle {
  private readonly msgHandlers: ((d: CommData) => void)[] = [];
  private readonly closeHandlers: ((d: CommData) => void)[] = [];
  closed = false;

  constructor(readonly commId: string, readonly targetName: string, private readonly mgr: CommManager) {}

  send(data: CommData): void {
    if (this.closed) throw new Error(`comm ${this.commId} (${this.targetName}) is closed`);
    this.mgr.sink.publish('comm_msg', { comm_id: this.commId, data });
  }

  close(data: CommData = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.mgr.sink.publish('comm_close', { comm_id: this.commId, data });
    this.mgr.forget(this.commId);
  }

  onMsg(cb: (d: CommData) => void): void {
    this.msgHandlers.push(cb);
  }

  onClose(cb: (d: CommData) => void): void {
    this.closeHandlers.push(cb);
  }

  /** A comm_msg from the front end. */
  receive(data: CommData): void {
    for (const h of this.msgHandlers) this.mgr.guard(`comm_msg handler (${this.targetName})`, () => h(data));
  }

  /** A comm_close from the front end. */
  closedByFrontEnd(data: CommData): void {
    this.closed = true;
    for (const h of this.closeHandlers) this.mgr.guard(`comm_close handler (${this.targetName})`, () => h(data));
  }
}

export class CommManager {
  private readonly comms = new Map<string, Comm>();
  private readonly targets = new Map<string, (comm: CommHandle, data: CommData) => void>();

  constructor(readonly sink: CommSink, private readonly displayContent: (v: unknown) => WireContent | undefined) {}

  /** The object the lib finds at `globalThis[Symbol.for('jupyter.comm')]`. */
  hook(): CommHook {
    return {
      open: (target, data, metadata) => this.open(target, data, metadata),
      registerTarget: (target, cb) => { this.targets.set(target, cb); },
      displayContent: (v) => this.displayContent(v),
    };
  }

  open(targetName: string, data: CommData = {}, metadata: CommData = {}): CommHandle {
    if (typeof targetName !== 'string' || targetName === '') throw new TypeError(`comm open: expected a target name, got ${String(targetName)}`);
    const comm = new Comm(randomUUID().replace(/-/g, ''), targetName, this);
    this.comms.set(comm.commId, comm);
    this.sink.publish('comm_open', { comm_id: comm.commId, target_name: targetName, data }, metadata);
    return comm;
  }

  /** Handles comm_open / comm_msg / comm_close from the front end (shell); they get no reply. */
  handle(type: string, content: { comm_id?: string; target_name?: string; data?: CommData }): void {
    const id = String(content.comm_id ?? '');
    const data = content.data ?? {};
    if (type === 'comm_open') {
      const target = this.targets.get(String(content.target_name));
      if (!target) {
        // ipykernel answers an unknown target with comm_close, so the front end does not wait forever
        this.sink.publish('comm_close', { comm_id: id, data: {} });
        return;
      }
      const comm = new Comm(id, String(content.target_name), this);
      this.comms.set(id, comm);
      this.guard(`comm target ${comm.targetName}`, () => target(comm, data));
    } else if (type === 'comm_msg') {
      this.comms.get(id)?.receive(data);
    } else if (type === 'comm_close') {
      const comm = this.comms.get(id);
      this.forget(id);
      comm?.closedByFrontEnd(data);
    }
  }

  /** comm_info_reply's `comms`: `{ [comm_id]: { target_name } }`, optionally of one target. */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values()) {
      if (!targetName || c.targetName === targetName) out[c.commId] = { target_name: c.targetName };
    }
    return out;
  }

  forget(id: string): void {
    this.comms.delete(id);
  }

  guard(where: string, fn: () => void): void {
    try {
      const r = fn() as unknown;
      if (r instanceof Promise) r.catch((e) => this.sink.reportError(where, e));
    } catch (e) {
      this.sink.reportError(where, e);
    }
  }
}
