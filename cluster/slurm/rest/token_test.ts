import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { expiryMs, parseTokenOutput } from "./token.ts";

Deno.test("parseTokenOutput() reads scontrol token's SLURM_JWT= line or a bare token", () => {
  // `scontrol token` prints exactly this shape (recorded from the private JWT cluster).
  assert.equal(parseTokenOutput("SLURM_JWT=eyJh.eyJl.F4k5\n"), "eyJh.eyJl.F4k5");
  assert.equal(parseTokenOutput("export SLURM_JWT=a.b.c\n"), "a.b.c");
  assert.equal(parseTokenOutput("fetching...\n  a.b.c  \n"), "a.b.c");
  assert.equal(parseTokenOutput(""), undefined);
  assert.equal(parseTokenOutput("Error fetching token\n"), undefined);
});

Deno.test("expiryMs() reads a JWT's exp, and nothing from what is not a JWT", async () => {
  const key = new TextEncoder().encode("a test key of at least thirty-two bytes");
  const token = await new SignJWT({ sun: "alice" }).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(1_900_000_000).sign(key);
  assert.equal(expiryMs(token), 1_900_000_000_000);
  const forever = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).sign(key);
  assert.equal(expiryMs(forever), undefined);
  assert.equal(expiryMs("t0k3n"), undefined);
});
