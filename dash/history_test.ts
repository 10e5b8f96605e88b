import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { emptyHistory, recordSamples } from "./history.ts";

Deno.test("recordSamples() aligns a new series with nulls and keeps the newest cap samples", () => {
  let h = recordSamples(emptyHistory(), 1, { a: 1 }, 3);
  h = recordSamples(h, 2, { a: 2, b: 10 }, 3);
  h = recordSamples(h, 3, { b: 11 }, 3);
  h = recordSamples(h, 4, { a: 4, b: 12 }, 3);
  assertEquals(h, { timesMs: [2, 3, 4], series: { a: [2, null, 4], b: [10, 11, 12] } });
});

Deno.test("recordSamples() drops a series once all its kept samples are null", () => {
  let h = recordSamples(emptyHistory(), 1, { gone: 1 }, 2);
  h = recordSamples(h, 2, {}, 2);
  h = recordSamples(h, 3, {}, 2);
  assertEquals(h, { timesMs: [2, 3], series: {} });
});
