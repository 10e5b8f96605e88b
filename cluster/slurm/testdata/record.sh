#!/usr/bin/env bash
# Records real squeue/sacct/sbatch output from the SLURM testbed (../shared/testbed) into this
# folder, for cluster/slurm/parse_test.ts. Submits short jobs named tprec-<case> (1 GPU at most,
# except a 4-GPU one that waits while another holds a GPU and is cancelled within seconds), and
# cancels every one of them at the end, also on failure.
# Usage: source /tmp/slurm-testbed/env.sh && bash cluster/slurm/testdata/record.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${SLURM_CONF:?source /tmp/slurm-testbed/env.sh first}"
work="$(mktemp -d /tmp/tprec.XXXXXX)"
# The formats cluster/slurm/cli.ts uses; epoch times so no time zone is guessed.
export SLURM_TIME_FORMAT=%s
SQUEUE_FORMAT='%i|%T|%r|%P|%N|%V|%S|%e|%l|%j'
SACCT_FORMAT='JobID,State,Reason,Partition,NodeList,Submit,Start,End,Timelimit,ExitCode,JobName'
ids=()
cases=()

cleanup() {
  if ((${#ids[@]})); then scancel "${ids[@]}" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# submit CASE SBATCH-OPTION...: submits job tprec-CASE; its id is left in $id.
submit() {
  local name="$1"
  shift
  id="$(sbatch --parsable --job-name="tprec-$name" --output="$work/%j.out" "$@")"
  id="${id%%;*}"
  ids+=("$id")
  cases+=("\"$name\": \"$id\"")
}

state_of() { squeue -h -j "$1" -t all -o %T 2>/dev/null || true; }
wait_state() { # id, state, seconds
  for _ in $(seq 1 "$3"); do
    [[ "$(state_of "$1")" == "$2" ]] && return 0
    sleep 1
  done
  echo "job $1 never reached $2 (is $(state_of "$1"))" >&2
  return 1
}

submit running --gres=gpu:1 --time=10 --wrap 'sleep 120'
running="$id"
wait_state "$running" RUNNING 60
submit completed --wrap 'true'
submit failed_exit3 --wrap 'exit 3'
failed="$id"
submit cancelled_running --wrap 'sleep 120'
cancel_running="$id"
submit timeout --time=1 --wrap 'sleep 300'
timeout_job="$id"
submit held_user --hold --wrap 'true'
submit held_admin --wrap 'true' --begin=now+3600
scontrol hold "$id"
submit begin_time --begin=now+3600 --wrap 'true'
submit cancelled_pending --hold --wrap 'true'
cancel_pending="$id"
submit dependency --dependency="afterok:$running" --wrap 'true'
wait_state "$failed" FAILED 60
submit dependency_never --dependency="afterok:$failed" --wrap 'true'
submit resources --gres=gpu:4 --wrap 'true'
resources="$id"
# A job just submitted: sacct may not know it yet, or show a placeholder row.
sacct -X -P -n --format="$SACCT_FORMAT" -j "$resources" >"$here/sacct_fresh.txt"
wait_state "$cancel_running" RUNNING 60
scancel "$cancel_running"
scancel "$cancel_pending"
sleep 3
squeue --me -t all --noheader -o "$SQUEUE_FORMAT" -j "$(IFS=,; echo "${ids[*]}")" \
  >"$here/squeue_all.txt"
# The 4-GPU job keeps the others' jobs waiting behind it: cancel it as soon as it is recorded.
scancel "$resources"
# Right after changes sacct may still show placeholder rows; record that first, then settled rows.
sacct -X -P -n --format="$SACCT_FORMAT" -j "$(IFS=,; echo "${ids[*]}")" >"$here/sacct_early.txt"
wait_state "$timeout_job" TIMEOUT 150
sleep 6
squeue --me -t all --noheader -o "$SQUEUE_FORMAT" -j "$(IFS=,; echo "${ids[*]}")" \
  >"$here/squeue_final.txt"
sacct -X -P -n --format="$SACCT_FORMAT" -j "$(IFS=,; echo "${ids[*]}")" >"$here/sacct.txt"

# sacct's lag: a job polled from its submit on, consecutive repeats dropped. When it starts at
# once, slurmdbd first shows a placeholder row (name "allocation", no partition, PENDING while the
# job already runs); a few tries catch one.
for _ in 1 2 3; do
  id="$(sbatch --parsable --job-name=tprec-lag --output=/dev/null --wrap 'sleep 3')"
  ids+=("$id")
  for _ in $(seq 1 120); do
    sacct -X -P -n --format="$SACCT_FORMAT" -j "$id"
    sleep 0.05
  done | uniq >"$here/sacct_lag.txt"
  grep -q '|allocation$' "$here/sacct_lag.txt" && break
done

# sbatch's own refusals, verbatim: one JSON object a line with the option, exit code and stderr.
{
  for opts in "--qos=nosuchqos" "--partition=nosuchpartition" "--gres=gpu:5" \
    "--account=nosuchaccount" "--reservation=nosuchresv"; do
    set +e
    sbatch --parsable --job-name=tprec-refused $opts --wrap true >"$work/out" 2>"$work/err"
    rc=$?
    set -e
    err="$(cat "$work/err")"
    if ((rc == 0)); then scancel "$(cut -d';' -f1 "$work/out")"; fi
    python3 -c 'import json, sys; print(json.dumps(dict(option=sys.argv[1], code=int(sys.argv[2]), stderr=sys.argv[3])))' "$opts" "$rc" "$err"
  done
} >"$here/sbatch_refused.jsonl"
printf '{\n  %s\n}\n' "$(IFS=$'\n'; printf '%s\n' "${cases[@]}" | paste -sd, | sed 's/,/,\n  /g')" \
  >"$here/cases.json"
echo "recorded ${#ids[@]} jobs into $here" >&2
