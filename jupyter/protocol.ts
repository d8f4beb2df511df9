/**
 * The Jupyter wire protocol (v5.3), shared by the kernel and the client: the connection file, parsing, HMAC
 * signing and verification of messages.
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html#the-wire-protocol
 */
import { createHmac, randomUUID, timingSafeEqual } from 'crypto';

export const PROTOCOL_VERSION = '5.3';

/** The connection file a kernel is started with (the Jupyter "connection files" spec). */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  key: string;
  signature_scheme?: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
}
const DELIM = Buffer.from('<IDS|MSG>');

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

/** One Jupyter message, without its routing identities. */
export interface Message<C = any> {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers?: Buffer[];
}

/** A message received on a ROUTER socket, with the identities needed to reply to its sender. */
export interface Received<C = any> extends Message<C> {
  identities: Buffer[];
}

/** Signs the four JSON frames. Jupyter's convention: an empty key means "no signing" (empty signature). */
export function sign(key: string, frames: (string | Buffer)[]): string {
  if (!key) return '';
  const h = createHmac('sha256', key);
  for (const f of frames) h.update(f);
  return h.digest('hex');
}

export class SignatureError extends Error {
  override name = 'SignatureError';
}

/** Parses raw ZeroMQ frames, rejecting messages whose signature does not match (including unsigned ones). */
export function parse(key: string, raw: Buffer[]): Received {
  const d = raw.findIndex((f) => f.equals(DELIM));
  if (d < 0 || raw.length < d + 6) throw new SignatureError('malformed message: no <IDS|MSG> delimiter or missing frames');
  const signature = raw[d + 1].toString();
  const body = raw.slice(d + 2, d + 6);
  const want = sign(key, body);
  const ok = signature.length === want.length && timingSafeEqual(Buffer.from(signature), Buffer.from(want));
  if (!ok) throw new SignatureError(signature ? 'invalid HMAC signature' : 'unsigned message');
  const [header, parent_header, metadata, content] = body.map((b) => JSON.parse(b.toString()));
  return { identities: raw.slice(0, d), header, parent_header, metadata, content, buffers: raw.slice(d + 6) };
}

/** Builds a new header; `session` identifies this kernel (or client) instance. */
export function makeHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    session,
    username: 'd2l-ts',
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Serialises a message into frames: identities, delimiter, signature, four JSON frames, buffers. */
export function serialize(key: string, msg: Message, identities: Buffer[] = []): (Buffer | string)[] {
  const body = [msg.header, msg.parent_header, msg.metadata, msg.content].map((x) => JSON.stringify(x));
  return [...identities, DELIM, sign(key, body), ...body, ...(msg.buffers ?? [])];
}
