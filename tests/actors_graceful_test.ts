import assert from "node:assert/strict";
import { readSnapshot } from "../actors/runtime/mod.ts";
import { leaseKey } from "../actors/runtime/mod.ts";
import { Worker } from "../actors/runtime/testdata/child.ts";
import { withKvPath } from "../actors/runtime/testdata/temp_kv.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} drains, flushes, releases leases, closes KV and exits 0`, async () => {
    await withKvPath("turnpike-graceful-", async (path) => {
      const worker = Worker.start(["--kv", path, "--add", "g1", "--add", "g2"]);
      let status: Deno.CommandStatus;
      try {
        // A KV queue does not promise delivery order: g2 may commit before g1.
        await worker.waitLine(/^COMMITTED counter\/c g1$/);
        await worker.waitLine(/^COMMITTED counter\/c g2$/);
      } finally {
        status = await worker.kill(signal);
      }
      const stderr = await worker.stderr();
      assert.equal(status.code, 0, stderr);
      assert.match(stderr, new RegExp(`received ${signal}, stopping`));
      assert.match(stderr, /stopped in \d+ ms/);
      const kv = await Deno.openKv(path);
      try {
        assert.equal((await kv.get(leaseKey("counter", "c"))).versionstamp, null, "lease released");
        const state = (await readSnapshot(kv, { kind: "counter", id: "c" }))?.value;
        assert.deepEqual((state as { count: number }).count, 2);
      } finally {
        kv.close();
      }
    });
  });
}
