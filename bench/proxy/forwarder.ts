/** The proxy benchmark's floor: a bare Hono app that forwards every request with `fetch` and returns the answer as is. */
import { parseArgs } from "node:util";
import { Hono } from "hono";

/** A Hono app that forwards everything to `upstream`. */
export function forwarderApp(upstream: string): Hono {
  const app = new Hono();
  app.all("*", (c) => {
    const url = new URL(c.req.url);
    return fetch(upstream + url.pathname + url.search, {
      method: c.req.method,
      headers: c.req.raw.headers,
      body: c.req.raw.body,
    });
  });
  return app;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string" }, upstream: { type: "string" } },
  });
  if (!values.upstream) throw new Error("Pass --upstream URL");
  const app = forwarderApp(values.upstream);
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port ?? "0"),
    onListen: (addr) => console.log(`listening ${addr.port}`),
  }, app.fetch);
}
