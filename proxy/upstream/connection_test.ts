import { assertEquals } from "../../sim/_assert.ts";
import {
  connectUpstream,
  INITIAL_READ_BYTES,
  MAX_READ_BYTES,
  type UpstreamConnection,
} from "./connection.ts";

/** A TCP server on 127.0.0.1 that writes `bytes` to its first client and keeps it open. */
async function withWriter(
  bytes: Uint8Array,
  fn: (connection: UpstreamConnection) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then(async (conn) => {
    let at = 0;
    while (at < bytes.byteLength) at += await conn.write(bytes.subarray(at));
    return conn;
  });
  const connection = await connectUpstream("127.0.0.1", listener.addr.port, {
    signal: new AbortController().signal,
    timeoutMs: 5_000,
  });
  try {
    await fn(connection);
  } finally {
    connection.close();
    (await accepted).close();
    listener.close();
  }
}

Deno.test("a connection reads small pieces into a small buffer and keeps it small", () =>
  withWriter(new Uint8Array(300).fill(97), async (connection) => {
    assertEquals(connection.buf.length, INITIAL_READ_BYTES);
    while (connection.buffered < 300) await connection.fill();
    connection.start = connection.end;
    assertEquals(connection.buf.length, INITIAL_READ_BYTES);
  }));

Deno.test("reads that fill the buffer double it up to MAX_READ_BYTES, and parking shrinks it back", () => {
  const total = 4 * MAX_READ_BYTES;
  return withWriter(new Uint8Array(total).fill(98), async (connection) => {
    let read = 0;
    let largest = 0;
    while (read < total) {
      await connection.fill();
      read += connection.buffered;
      // Consumed, as a body reader does with everything buffered.
      connection.start = connection.end;
      largest = Math.max(largest, connection.buf.length);
    }
    assertEquals(read, total);
    assertEquals(largest > INITIAL_READ_BYTES, true);
    assertEquals(largest <= MAX_READ_BYTES, true);
    connection.park(() => {});
    assertEquals(connection.buf.length, INITIAL_READ_BYTES);
  });
});
