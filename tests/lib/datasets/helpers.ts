// Shared by the tests of lib/datasets/: IDX bytes to parse, and local HTTP servers to download from.
import * as http from 'http';
import type { AddressInfo } from 'net';

/** An IDX file of unsigned bytes. */
export function idx(shape: number[], data: ArrayLike<number>): Buffer {
  const h = Buffer.alloc(4 + 4 * shape.length);
  h[2] = 0x08;
  h[3] = shape.length;
  shape.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(Uint8Array.from(data))]);
}

/** A local HTTP server; `handler` answers each request. */
export async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** The base URL of a port nobody listens on any more (a refused connection). */
export async function refusedUrl(): Promise<string> {
  const closed = await serve(() => undefined);
  await closed.close();
  return closed.url;
}
