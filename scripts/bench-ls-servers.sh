#!/usr/bin/env bash
# ls-servers over a 500-instance environment, beside `aws ec2 describe-instances`.
# Usage: scripts/bench-ls-servers.sh path/to/login-release (run by scripts/bench.sh)
set -euo pipefail

BIN=${1:?usage: scripts/bench.sh path/to/login-release}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
RUNS=${BENCH_RUNS:-5}

ms_now() { date +%s%N | cut -c1-13; }
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---------------------------------------------------------------------------------------------
# ls-servers over a 500-instance environment, against `aws ec2 describe-instances` (CLI v1) on the
# same emulator and fleet. Call counts are the emulator's request log lines per run.
section_ls_servers() {
  command -v aws >/dev/null || { echo "ls-servers bench: the aws CLI is not installed (pip install awscli)" >&2; return 1; }
  local tmp sandbox
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/login-release-bench.XXXXXX")
  sandbox=$tmp/sandbox
  # shellcheck disable=SC2064
  trap "'$BIN' -q sandbox down --dir '$sandbox' || true; rm -rf '$tmp'" RETURN
  "$BIN" -q sandbox up --dir "$sandbox" >/dev/null
  eval "$("$BIN" sandbox env --dir "$sandbox")"
  local log=$sandbox/emulator.log

  local t0 t1
  t0=$(ms_now)
  "$BIN" -q sandbox seed bench --groups 5 --size 100 >/dev/null
  t1=$(ms_now)
  echo "seeded 5 groups x 100 instances in $((t1 - t0)) ms"

  local vpc states
  vpc=$(aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-vpcs \
    --filters Name=tag:Name,Values=login-vpc-bench --query 'Vpcs[0].VpcId' --output text)
  states=pending,running,shutting-down,stopping,stopped
  ours() { "$BIN" ls-servers -e bench --output tsv; }
  theirs() {
    aws --endpoint-url "$AWS_ENDPOINT_URL" ec2 describe-instances \
      --filters "Name=vpc-id,Values=$vpc" "Name=instance-state-name,Values=$states" --output json
  }

  # One checked run each: row counts and calls.
  local before rows_ours calls_ours rows_theirs calls_theirs
  before=$(wc -l <"$log")
  rows_ours=$(ours 2>/dev/null | tail -n +2 | wc -l)
  calls_ours=$(($(wc -l <"$log") - before))
  before=$(wc -l <"$log")
  rows_theirs=$(theirs | grep -c '"InstanceId"')
  calls_theirs=$(($(wc -l <"$log") - before))

  local i times_ours=() times_theirs=()
  for ((i = 0; i < RUNS; i++)); do
    t0=$(ms_now); ours >/dev/null 2>&1; t1=$(ms_now); times_ours+=($((t1 - t0)))
    t0=$(ms_now); theirs >/dev/null; t1=$(ms_now); times_theirs+=($((t1 - t0)))
  done
  local m_ours m_theirs
  m_ours=$(printf '%s\n' "${times_ours[@]}" | median)
  m_theirs=$(printf '%s\n' "${times_theirs[@]}" | median)

  echo "ls-servers over 500 instances: median of $RUNS runs against moto on loopback"
  printf '  %-58s %6s ms  %2s calls  %4s rows\n' \
    "login-release ls-servers -e bench --output tsv" "$m_ours" "$calls_ours" "$rows_ours" \
    "aws ec2 describe-instances (CLI v1, same filters, json)" "$m_theirs" "$calls_theirs" "$rows_theirs"
  echo "  (ours adds the VPC look-up and the groups' lifecycle, health and protection: DescribeVpcs,"
  echo "   DescribeInstances, DescribeAutoScalingGroups)"
  [ "$rows_ours" -eq 500 ] || { echo "ls-servers listed $rows_ours rows, expected 500" >&2; return 1; }
}

section_ls_servers
