import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { withKvPath } from "./testdata/temp_kv.ts";
import { isKvBusy, retryKvBusy } from "./kv_busy.ts";

Deno.test("retryKvBusy() gets checked writes from two handles on one file through SQLite's busy refusals", async () => {
  await withKvPath("turnpike-kv-busy-", async (path) => {
    const handles = [await Deno.openKv(path), await Deno.openKv(path)];
    const counter = ["counter"];
    const bump = (kv: Deno.Kv) =>
      retryKvBusy(async () => {
        for (;;) {
          const head = await kv.get<Deno.KvU64>(counter);
          const next = new Deno.KvU64((head.value?.value ?? 0n) + 1n);
          if ((await kv.atomic().check(head).set(counter, next).commit()).ok) return;
        }
      }, { attempts: 100 });
    try {
      await Promise.all(handles.map(async (kv) => {
        for (let i = 0; i < 50; i++) await bump(kv);
      }));
      assertEquals((await handles[0]!.get<Deno.KvU64>(counter)).value?.value, 100n);
    } finally {
      for (const kv of handles) kv.close();
    }
  });
});

Deno.test("retryKvBusy() passes any other error through at once", async () => {
  let calls = 0;
  const error = await retryKvBusy(() => {
    calls++;
    return Promise.reject(new Error("something else"));
  }).catch((e) => e);
  assertEquals([(error as Error).message, calls], ["something else", 1]);
  assertEquals(isKvBusy(new TypeError("database is locked")), true);
});
