import { assert, assertGreater } from "./_assert.ts";
import { calibrationRows, chunkedPrefillRows } from "./calibration.ts";

Deno.test("every calibration row is within 10% of the H100 measurement", () => {
  const rows = calibrationRows();
  assertGreater(rows.length, 10);
  for (const row of rows) {
    assert(
      Math.abs(row.error) <= 0.1,
      `${row.name}: sim ${row.simulatedMs} ms vs ${row.referenceMs} ms`,
    );
  }
});

Deno.test("chunked prefill of a long prompt costs more than one pass over it", () => {
  for (const row of chunkedPrefillRows()) assertGreater(row.simulatedMs, row.referenceMs * 0.95);
});
