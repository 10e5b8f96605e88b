import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { createPicker } from "./picker.ts";
import { pickNote } from "./pick_note.ts";
import { options, request, view } from "./_testing.ts";

Deno.test("a pick's note names the strategy and says only_candidate for a lone backend, balanced by load", () => {
  const picker = createPicker({ least_load: 1, round_robin: 2 }, options());
  const note = pickNote();
  picker.pick(request(), [view("a")], note);
  assertEquals(note, { strategy: "least_load+round_robin", reason: "only_candidate" });
  picker.pick(request(), [view("a"), view("b")], note);
  assertEquals(note.reason, "balanced");
});

Deno.test("a pick's note says prefix_hit, with the router's estimated share, when prefix_aware expects the prompt cached", () => {
  const picker = createPicker("prefix_aware", options());
  const candidates = [view("a"), view("b")];
  const first = pickNote();
  const chosen = picker.pick(request([1, 2, 3, 4]), candidates, first);
  assertEquals([first.reason, first.prefixShare], ["balanced", 0]);
  const again = pickNote();
  assertEquals(picker.pick(request([1, 2, 3, 4, 5]), candidates, again), chosen);
  assertEquals([again.reason, again.prefixShare], ["prefix_hit", 0.8]);
});

Deno.test("a pick's note says affinity for a session's replica, and load_shed once that replica is past the load bound", () => {
  const picker = createPicker("session_affinity", options());
  const note = pickNote();
  const home = picker.pick(request([], "s1"), [view("a"), view("b")], note)!;
  assertEquals(note.reason, "balanced");
  picker.pick(request([], "s1"), [view("a"), view("b")], note);
  assertEquals(note.reason, "affinity");
  const other = home.id === "a" ? "b" : "a";
  picker.pick(request([], "s1"), [view(home.id, { inFlight: 10 }), view(other)], note);
  assertEquals(note.reason, "load_shed");
});
