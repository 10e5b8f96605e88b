import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { exposureOf, isLoopbackHost } from "./exposure.ts";

Deno.test("isLoopbackHost() knows 127/8, localhost and ::1, and nothing else", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assert(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "example.org", "128.0.0.1"]) {
    assert(!isLoopbackHost(host), host);
  }
});

Deno.test("exposureOf(): auth off is fine on loopback with a notice, refused elsewhere unless insecure", () => {
  const local = exposureOf({ authEnabled: false, host: "127.0.0.1", insecure: false });
  assert(local.ok && /anyone on this machine/.test(local.notice!));
  const open = exposureOf({ authEnabled: false, host: "0.0.0.0", insecure: false });
  assert(!open.ok && /Refusing to listen on 0\.0\.0\.0/.test(open.message));
  const insecure = exposureOf({ authEnabled: false, host: "0.0.0.0", insecure: true });
  assert(insecure.ok && /--insecure/.test(insecure.notice!));
  assertEquals(exposureOf({ authEnabled: true, host: "0.0.0.0", insecure: false }), {
    ok: true,
    notice: undefined,
  });
});
