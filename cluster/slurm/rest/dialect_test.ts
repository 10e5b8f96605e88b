import assert from "node:assert/strict";
import { offeredVersions, pickDialect } from "./dialect.ts";

const submit = (version: string) => `/slurm/${version}/job/submit`;

Deno.test("pickDialect() takes the newest submit API both sides speak", () => {
  assert.equal(pickDialect([submit("v0.0.38"), submit("v0.0.37")])?.version, "v0.0.38");
  assert.equal(
    pickDialect([submit("v0.0.40"), submit("v0.0.43"), submit("v0.0.46")])?.version,
    "v0.0.43",
  );
  assert.equal(pickDialect([submit("v0.0.39")]), undefined);
  assert.equal(pickDialect(["/slurm/v0.0.44/jobs", "/slurmdb/v0.0.44/job/{job_id}"]), undefined);
});

Deno.test("offeredVersions() lists the submit APIs a document offers", () => {
  assert.deepEqual(offeredVersions([submit("v0.0.39"), "/openapi", submit("v0.0.36")]), [
    "v0.0.36",
    "v0.0.39",
  ]);
});
