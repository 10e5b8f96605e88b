import assert from "node:assert/strict";
import { freePort, saysAddressInUse } from "./ports.ts";

Deno.test("freePort() returns a port that can be bound at once", () => {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  assert.equal((listener.addr as Deno.NetAddr).port, port);
  listener.close();
});

Deno.test("saysAddressInUse() knows Deno's, the OS's and Node's wording and nothing else", () => {
  assert.ok(saysAddressInUse("error: Uncaught AddrInUse: Address already in use (os error 98)"));
  assert.ok(
    saysAddressInUse("ERROR: [Errno 98] error while attempting to bind: address already in use"),
  );
  assert.ok(saysAddressInUse("Error: listen EADDRINUSE: address already in use :::8000"));
  assert.equal(saysAddressInUse("CUDA out of memory"), false);
});
