import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { conformance, post, stalledListener, text, within } from "./_raw_server.ts";
import { UpstreamClient, type UpstreamTransportName } from "./client.ts";
import { UpstreamError, type UpstreamFailure } from "./errors.ts";

const failed = (kind: UpstreamFailure, unprocessed: boolean) => (error: unknown) =>
  error instanceof UpstreamError && error.kind === kind && error.unprocessed === unprocessed;

for (const transport of ["http1", "fetch"] as UpstreamTransportName[]) {
  Deno.test(`[${transport}] request() fails as unprocessed when the replica refuses the connection`, async () => {
    // Port 2 is privileged and unused, so no test in a parallel run can take it meanwhile, and
    // unlike port 1 fetch does not block it.
    const client = new UpstreamClient({ transport });
    try {
      await rejects(client.request(post("http://127.0.0.1:2")), failed("connect_refused", true));
    } finally {
      client.close();
    }
  });

  Deno.test(`[${transport}] request() gives up on a connect that hangs after the connect timeout`, async () => {
    const stalled = await stalledListener();
    const client = new UpstreamClient({
      transport,
      connectTimeoutMs: 100,
      firstByteTimeoutMs: 100,
    });
    const abort = new AbortController();
    try {
      // fetch cannot tell a connect from the wait for the head: its timeout is never resent.
      await rejects(
        within(client.request(post(stalled.url, { signal: abort.signal })), 3_000, "a timeout"),
        transport === "fetch"
          ? failed("first_byte_timeout", false)
          : failed("connect_timeout", true),
      );
    } finally {
      abort.abort();
      client.close();
      stalled.close();
    }
  });
}

let never = Promise.withResolvers<void>();
conformance(
  "request() fails without resending when no head comes within the first-byte timeout",
  () => [() => never.promise],
  async ({ server, client }) => {
    never = Promise.withResolvers<void>();
    try {
      await rejects(
        within(client.request(post(server.url)), 3_000, "the first-byte timeout"),
        failed("first_byte_timeout", false),
      );
      assertEquals(server.state.requests, 1);
    } finally {
      never.resolve();
    }
  },
  { client: { connectTimeoutMs: 100, firstByteTimeoutMs: 100 } },
);

let hold = Promise.withResolvers<void>();
conformance(
  "request() keeps at most max_connections_per_backend in flight; the rest wait or leave on abort",
  () => [() => hold.promise, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    hold = Promise.withResolvers<void>();
    try {
      const sent = [0, 1, 2, 3].map(() => client.request(post(server.url)).then(text));
      const leaving = new AbortController();
      const left = client.request(post(server.url, { signal: leaving.signal }));
      await Promise.resolve();
      assertEquals(client.usage(server.url), { active: 2, waiting: 3 });
      leaving.abort("client");
      await rejects(left, (error: Error) => error.name === "AbortError");
      assertEquals(client.usage(server.url), { active: 2, waiting: 2 });
      hold.resolve();
      assertEquals(await Promise.all(sent), ["ok", "ok", "ok", "ok"]);
      assertEquals(server.state.maxInFlight, 2);
      assertEquals(client.usage(server.url), { active: 0, waiting: 0 });
    } finally {
      hold.resolve();
    }
  },
  { client: { maxConnectionsPerBackend: 2 } },
);

conformance(
  "the pool closes a connection idle past the idle timeout",
  () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "ok");
    await server.clientClosed(1);
  },
  { client: { idleTimeoutMs: 100 } },
);

conformance(
  "the pool closes an idle connection at once when the server closes it, and the next request connects afresh",
  (
    n,
  ) => [
    `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${n}`,
    ...(n === 0 ? ["HALF_CLOSE" as const] : []),
  ],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "0");
    await server.clientClosed(1);
    assertEquals(await text(await client.request(post(server.url))), "1");
    assertEquals(server.state.connections, 2);
  },
  { client: { idleTimeoutMs: 60_000 } },
);
