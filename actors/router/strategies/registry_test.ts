import { throws as assertThrows } from "node:assert/strict";
import { strategyFactory } from "./registry.ts";

Deno.test("strategyFactory() names the known strategies when a name has none", () => {
  assertThrows(
    () => strategyFactory("least_lod"),
    /Unknown routing strategy "least_lod": choose one of round_robin, least_connections/,
  );
  assertThrows(() => strategyFactory("toString"), /Unknown routing strategy "toString"/);
});
