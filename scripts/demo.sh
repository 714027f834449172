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
step "Capacity of the idp group" \
  asg-size prod idp

step "Changelog of what staging runs beyond production" \
  -C "$REPO" changelog --source origin/main
step "Cut the RC branch from what staging runs and open its promotion PR (the plan only: --dry-run)" \
  -C "$REPO" cut-rc --open-pr --dry-run
step "Cut the RC branch from what staging runs and open its promotion PR on the sandbox's GitHub" \
  -C "$REPO" cut-rc --open-pr --yes | tee "$TMP/cut.txt"
n=$((n + 1)) # that step ran in the pipeline's subshell
PR=$(grep -o 'pull/[0-9]*' "$TMP/cut.txt" | head -n 1 | cut -d/ -f2)
[ -n "$PR" ] || { echo "demo: cut-rc named no PR" >&2; exit 1; }

step "The reviewer (played by the sandbox) approves the promotion PR and merges it (a normal merge, never squash)" \
  sandbox approve "$PR" --merge --dir "$SANDBOX"
git -C "$SANDBOX/origin.git" log --oneline -1 stages/prod

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
idp_count_is() { [ "$("$BIN" ls-servers -e prod -r idp -o ids | tr , '\n' | grep -c .)" = "$1" ]; }

step "Recycle idp: migration instance now, idp and worker doubled in 15s, back to normal 20s later (the sandbox's timings: $SANDBOX/config.toml)" \
  asg-recycle prod idp --yes
step "Follow the migration until provision.sh finishes (the world provisions it; exit 5 had it been abandoned)" \
  watch-migration prod --timeout 2m
step "A second recycle is refused while this one is in progress" \
  asg-recycle prod idp --yes || echo "(refused as expected: exit $?)"

wait_for 60 "the scheduled scale-out: the world runs it at its time" idp_count_is 8
step "New and old instances side by side (see the sha column), with load-balancer health" \
  ls-servers -e prod -r idp
step "Capacity during the recycle" \
  asg-size prod idp
step "Removing the old instances before the scale-down time is refused" \
  scale-remove-old-instances prod ALL --yes || echo "(refused as expected: exit $?)"
step "Wait for the scale-down, then remove scale-in protection from the old instances" \
  scale-remove-old-instances prod ALL --wait --yes
step "Running it again finds nothing to do" \
  scale-remove-old-instances prod ALL --yes
wait_for 60 "the groups to terminate the unprotected old instances" idp_count_is 4
step "Production after the release: only the new instances, running = desired" \
  ls-servers -e prod
step "What the world did meanwhile" \
  sandbox status --dir "$SANDBOX"

step "Sign and push the release tag on stages/prod, and publish the GitHub release" \
  -C "$REPO" tag-release --github-release --yes
step "If it went wrong: the revert branch and the quick fleet rollback (the plan only)" \
  -C "$REPO" rollback --rc 112 --fleet prod --dry-run

banner "Done"
echo "The sandbox stops now. To practise by hand: login-release sandbox up; eval \"\$(login-release sandbox env)\""
