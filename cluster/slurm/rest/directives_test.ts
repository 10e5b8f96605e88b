import assert from "node:assert/strict";
import { DirectiveError, parseDirectives } from "./directives.ts";

Deno.test("parseDirectives() reads long and short #SBATCH options until the first command", () => {
  const script = `#!/bin/bash
# a comment

#SBATCH --job-name=tp-m-r0
#SBATCH -p gpu_a
#SBATCH --qos high
#SBATCH -A "testacct"
#SBATCH --time=1-00:00:30
#SBATCH --nodes=2 
#SBATCH --ntasks-per-node=1
#SBATCH -c 8
#SBATCH --gpus-per-node=4
#SBATCH --mem=16G
#SBATCH --export=ALL
#SBATCH --constraint=a100
#SBATCH --reservation=maint
#SBATCH -o /jobs/%j.out
#SBATCH -e /jobs/%j.err
#SBATCH --no-requeue
#SBATCH --exclusive
set -e
#SBATCH --partition=ignored
`;
  assert.deepEqual(parseDirectives(script), {
    name: "tp-m-r0",
    partition: "gpu_a",
    qos: "high",
    account: "testacct",
    timeLimitMinutes: 1441,
    nodes: 2,
    tasksPerNode: 1,
    cpusPerTask: 8,
    gres: "gpu:4",
    memoryMb: 16384,
    constraints: "a100",
    reservation: "maint",
    standardOutput: "/jobs/%j.out",
    standardError: "/jobs/%j.err",
    requeue: false,
    exclusive: true,
  });
  assert.deepEqual(parseDirectives("#SBATCH --time=UNLIMITED\n"), {});
});

Deno.test("parseDirectives() names what it cannot pass on", () => {
  assert.throws(() => parseDirectives("#SBATCH --mail-user=a@b\n"), DirectiveError);
  assert.throws(
    () => parseDirectives("#SBATCH --time=soon\n"),
    /Cannot read the time of #SBATCH --time=soon/,
  );
  assert.throws(() => parseDirectives("#SBATCH --nodes=0\n"), /needs a positive whole number/);
  assert.throws(() => parseDirectives("#SBATCH --mem=lots\n"), /Cannot read the memory/);
  assert.throws(() => parseDirectives("#SBATCH +x\n"), /Cannot read #SBATCH \+x/);
});
