#!/usr/bin/env bash
# Records real slurmrestd (SLURM 22.05, API v0.0.38) answers from the SLURM testbed into this
# folder, for cluster/slurm/rest_test.ts. Starts its own slurmrestd with rest_auth/local on a unix
# socket (no JWT: the shared slurmctld has no auth/jwt), running as `nobody`, which needs an
# association in the testbed's account (added when missing). Submits jobs named
# tprest-<case> and cancels every one at the end, also on failure.
# Usage: source /tmp/slurm-testbed/env.sh && bash cluster/slurm/testdata/rest/record.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${SLURM_CONF:?source /tmp/slurm-testbed/env.sh first}"
account="${SLURM_TESTBED_ACCOUNT:-testacct}"
work="$(mktemp -d /tmp/tprest.XXXXXX)"
chmod 0777 "$work"
sock="$work/slurmrestd.sock"
ids=()
restd=""

cleanup() {
  if ((${#ids[@]})); then scancel "${ids[@]}" 2>/dev/null || true; fi
  if [[ -n "$restd" ]]; then kill "$restd" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "$(sacctmgr -n -P show assoc user=nobody account="$account" format=user)" ]]; then
  sacctmgr -i add user nobody account="$account" >/dev/null
fi
slurmrestd -a rest_auth/local -u nobody "unix:$sock" 2>"$work/slurmrestd.log" &
restd=$!
for _ in $(seq 1 50); do [[ -S "$sock" ]] && break; sleep 0.1; done

api() { # METHOD PATH [BODY]
  curl -sS --unix-socket "$sock" -X "$1" -H 'content-type: application/json' \
    ${3:+--data "$3"} "http://localhost$2"
}
body() { # CASE PARTITION QOS SCRIPT [EXTRA-JSON]
  printf '{"script":"%s","job":{"name":"tprest-%s","partition":"%s","qos":"%s","account":"%s","time_limit":2,"current_working_directory":"%s","standard_output":"%s/%%j.out","environment":{"PATH":"/usr/bin:/bin"}%s}}' \
    "$4" "$1" "$2" "$3" "$account" "$work" "$work" "${5:-}"
}
submit() { # CASE FILE PARTITION QOS SCRIPT [EXTRA-JSON]
  api POST /slurm/v0.0.38/job/submit "$(body "$1" "$3" "$4" "$5" "${6:-}")" >"$here/$2"
  id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("job_id") or "")' "$here/$2")"
  if [[ -n "$id" ]]; then ids+=("$id"); fi
}
state_of() {
  api GET "/slurm/v0.0.38/job/$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["job_state"])'
}
wait_state() { # ID STATE
  for _ in $(seq 1 60); do
    [[ "$(state_of "$1")" == "$2" ]] && return 0
    sleep 1
  done
  echo "job $1 never reached $2" >&2
  return 1
}
wait_db() { # ID STATE FILE: until slurmdbd has the final state (sacct lags)
  for _ in $(seq 1 60); do
    api GET "/slurmdb/v0.0.38/job/$1" >"$here/$3"
    grep -q "\"current\": \"$2\"" "$here/$3" && return 0
    sleep 1
  done
  echo "slurmdbd never showed $1 as $2" >&2
  return 1
}

# The document lists every path; only the path names are kept (the whole is 500 KB).
api GET /openapi/v3 | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(json.dumps({"openapi": doc.get("openapi"), "info": doc.get("info"), "paths": {p: {} for p in doc["paths"]}}, indent=2))
' >"$here/openapi_paths.json"
api GET /slurm/v0.0.38/ping >"$here/ping.json"

submit running submit_ok.json gpu_a normal '#!/bin/bash\nsleep 120\n'
running="$id"
wait_state "$running" RUNNING
api GET "/slurm/v0.0.38/job/$running" >"$here/job_running.json"

submit held submit_held.json gpu_a normal '#!/bin/bash\ntrue\n' ',"hold":true'
held="$id"
api GET "/slurm/v0.0.38/job/$held" >"$here/job_held.json"

submit badqos submit_bad_qos.json gpu_a nosuchqos '#!/bin/bash\ntrue\n'
submit badpart submit_bad_partition.json nosuchpartition normal '#!/bin/bash\ntrue\n'

submit fails submit_fails.json gpu_b normal '#!/bin/bash\nexit 3\n'
fails="$id"
submit completes submit_completes.json gpu_b normal '#!/bin/bash\necho done\n'
completes="$id"
wait_state "$fails" FAILED
wait_state "$completes" COMPLETED

api DELETE "/slurm/v0.0.38/job/$running" >"$here/cancel.json"
wait_state "$running" CANCELLED
api DELETE "/slurm/v0.0.38/job/$held" >/dev/null
wait_state "$held" CANCELLED
api GET "/slurm/v0.0.38/job/$running" >"$here/job_cancelled.json"
api GET "/slurm/v0.0.38/job/$fails" >"$here/job_failed.json"
api GET "/slurm/v0.0.38/job/$completes" >"$here/job_completed.json"
api GET /slurm/v0.0.38/job/999999999 >"$here/job_unknown.json"
api GET /slurm/v0.0.38/jobs | python3 -c '
import json, sys
doc = json.load(sys.stdin)
doc["jobs"] = [j for j in doc["jobs"] if j["name"].startswith("tprest-")]
print(json.dumps(doc, indent=2))
' >"$here/jobs.json"

wait_db "$completes" COMPLETED db_job_completed.json
wait_db "$fails" FAILED db_job_failed.json
wait_db "$running" CANCELLED db_job_cancelled.json
api GET /slurmdb/v0.0.38/job/999999999 >"$here/db_job_unknown.json"
printf '{"running": "%s", "held": "%s", "fails": "%s", "completes": "%s"}\n' \
  "$running" "$held" "$fails" "$completes" >"$here/cases.json"
echo "recorded into $here" >&2
