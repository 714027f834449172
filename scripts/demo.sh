#!/usr/bin/env bash
# Rehearse a production release against a local sandbox: no credentials, no network.
# Usage: scripts/demo.sh path/to/login-release   (`make demo` runs it with the debug build and
# LOGIN_RELEASE_MOTO_PYTHON pointing at the project's moto virtualenv)
set -euo pipefail

BIN=${1:?usage: scripts/demo.sh path/to/login-release}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "demo: $BIN is not an executable (run \`make build\`)" >&2; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/login-release-demo.XXXXXX")
SANDBOX=$TMP/sandbox
cleanup() {
  "$BIN" -q sandbox down --dir "$SANDBOX" || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then BOLD=$'\033[1m'; DIM=$'\033[2m'; OFF=$'\033[0m'; else BOLD=; DIM=; OFF=; fi
n=0
banner() {
  n=$((n + 1))
  printf '\n%s== %d. %s ==%s\n' "$BOLD" "$n" "$1" "$OFF"
}
# step TITLE CMD...: print the banner and the command as typed, then run it.
step() {
  local title=$1
  shift
  banner "$title"
  printf '%s$ login-release %s%s\n' "$DIM" "$*" "$OFF"
  "$BIN" "$@"
}

banner "Start the sandbox (AWS emulator, prod-shaped fleet, git origin, GitHub, staging deploy.json, signing key)"
"$BIN" sandbox up --dir "$SANDBOX"
eval "$("$BIN" sandbox env --dir "$SANDBOX")"
REPO=$SANDBOX/repo
# The release's clock runs in UTC; every command below talks only to the sandbox.

step "What runs in production now (runbook: no extra servers before deploying)" \
  ls-servers -e prod

# The sandbox's calendar allows Monday to Thursday; on any other day (or a federal holiday) the
# rehearsal is an off-cycle deploy, exactly as it would be in production.
OFFCYCLE=()
if ! "$BIN" -C "$REPO" deploy status | grep -q "is a full-deploy day"; then
  OFFCYCLE=(--off-cycle --reason "sandbox rehearsal outside the deploy calendar")
fi
# The rehearsal's pacing: poll GitHub and the fleet every second, give the monitor 2 minutes.
PACE=(--poll-interval 1s --monitor-duration 2m)

step "The release's plan: every preflight finding and the ten steps (--dry-run changes nothing)" \
  -C "$REPO" deploy start idp --dry-run "${OFFCYCLE[@]}"

# deploy_with_approval ARGS...: run `deploy ARGS` while the reviewer (played by the sandbox)
# approves the promotion PR once deploy has opened it. deploy merges it itself (a normal merge).
deploy_with_approval() {
  printf '%s$ login-release --yes deploy %s%s\n' "$DIM" "$*" "$OFF"
  "$BIN" -C "$REPO" --yes deploy "$@" &
  local pid=$!
  "$BIN" -q sandbox approve --wait 2m --dir "$SANDBOX" >/dev/null
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

banner "Release 1: deploy start, from cut to tag; the world moves by itself, the reviewer approves (the sandbox plays them)"
deploy_with_approval start idp --checks-done "${PACE[@]}" "${OFFCYCLE[@]}"
step "Where the release stands (from any clone: the record is on origin)" \
  -C "$REPO" deploy status
step "Production after the release: only the new instances, running = desired" \
  ls-servers -e prod -r idp

banner "Release 2: a hotfix lands on main and is patched onto production, but the new code returns 5xx"
"$BIN" sandbox stage --message "Fix the remembered sign-in method (#9110)" --dir "$SANDBOX"
FIX=$(git -C "$SANDBOX/origin.git" rev-parse main)
"$BIN" sandbox break errors --new-sha --rate 20% --dir "$SANDBOX"
# A patch may run on any working day; on a weekend or a holiday it is an emergency (off-cycle):
# its preflight (a dry run) says which, and the real start shows any other finding.
PATCH_OFFCYCLE=()
if ! "$BIN" -C "$REPO" deploy start idp --patch --cherry-pick "$FIX" --dry-run >/dev/null 2>&1; then
  PATCH_OFFCYCLE=(--off-cycle --reason "sandbox rehearsal of an emergency patch")
fi
rc=0
deploy_with_approval start idp --patch --cherry-pick "$FIX" --checks-done "${PACE[@]}" "${PATCH_OFFCYCLE[@]}" || rc=$?
[ "$rc" = 5 ] || { echo "demo: the release should have stopped at the monitor (exit 5), not exit $rc" >&2; exit 1; }
echo "(the monitor failed the new code: exit $rc)"
NEW=$(git -C "$SANDBOX/origin.git" rev-parse stages/prod) # what the new instances run
step "Roll back: the quick fleet rollback, the revert PR, the retrospective reminder" \
  -C "$REPO" --yes deploy rollback --reason "5xx on the new code"
"$BIN" sandbox mend --dir "$SANDBOX"

# wait_for N WHAT CMD...: the world moves by itself; poll CMD (quietly) until it succeeds.
wait_for() {
  local limit=$1 what=$2 t=0
  shift 2
  printf '%s(waiting for %s)%s\n' "$DIM" "$what" "$OFF"
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1))
    [ "$t" -le "$((limit * 2))" ] || { echo "demo: $what did not happen within ${limit}s" >&2; exit 1; }
    sleep 0.5
  done
}
runs_only() { ! "$BIN" ls-servers -e prod -r idp -o json | grep -q "$1"; }
wait_for 90 "the groups to terminate the new code's instances" runs_only "$NEW"
step "Production after the rollback: release 1's code again" \
  ls-servers -e prod -r idp
step "The record of the rolled-back release" \
  -C "$REPO" deploy status
step "What the world did meanwhile" \
  sandbox status --dir "$SANDBOX"

banner "Done"
echo "The sandbox stops now. To practise by hand: login-release sandbox up; eval \"\$(login-release sandbox env)\""
