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

banner "Start the sandbox (AWS emulator, prod-shaped fleet, git origin, staging deploy.json, signing key)"
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
step "Cut the RC branch from what staging runs (the plan only: --dry-run)" \
  -C "$REPO" cut-rc --rc 112 --dry-run
step "Cut the RC branch from what staging runs" \
  -C "$REPO" cut-rc --rc 112 --yes
RC_BRANCH=$(git -C "$REPO" for-each-ref --format='%(refname:lstrip=3)' 'refs/remotes/origin/stages/rc-*' | tail -n 1)

banner "Simulated: a reviewer approves the promotion PR and merges it (a normal merge, never squash)"
git -C "$REPO" fetch -q origin
git -C "$REPO" checkout -q -B stages/prod origin/stages/prod
git -C "$REPO" -c user.name="Sandbox Reviewer" -c user.email=reviewer@example.gov \
  merge -q --no-ff -m "Merge pull request #9001 from 18F/$RC_BRANCH" "origin/$RC_BRANCH"
git -C "$REPO" push -q origin stages/prod
git -C "$REPO" log --oneline -1 stages/prod

step "Recycle idp: migration instance now, idp and worker doubled in 5m, back to normal in 15m" \
  asg-recycle prod idp --yes
banner "Simulated: the migration instance provisions and runs db:migrate (the emulator runs no instance)"
"$BIN" -q sandbox provision prod --yes
step "Follow the migration until provision.sh finishes (exit 5 had it been abandoned)" \
  watch-migration prod --timeout 2m
step "A second recycle is refused while this one is in progress" \
  asg-recycle prod idp --yes || echo "(refused as expected: exit $?)"

banner "Simulated: 5 minutes later the scheduled scale-outs run (the emulator never runs scheduled actions)"
RELEASE_SHA=$(git -C "$REPO" rev-parse origin/stages/prod)   # what the new instances boot
"$BIN" -q sandbox scale-out prod idp --gitsha "$RELEASE_SHA" --yes
"$BIN" -q sandbox scale-out prod worker --gitsha "$RELEASE_SHA" --yes
step "New and old instances side by side (see the sha column), with load-balancer health" \
  ls-servers -e prod -r idp
step "Capacity during the recycle" \
  asg-size prod idp
step "Removing the old instances before the scale-down time is refused (in production: --wait)" \
  scale-remove-old-instances prod ALL --yes || echo "(refused as expected: exit $?)"

banner "Simulated: 15 minutes after the recycle the scheduled returns to normal size run"
for role in idp worker migration; do
  "$BIN" -q sandbox scale-out prod "$role" --action RecycleOnce.asg-recycle --yes
done
sleep 2 # the new instances' 1s health-check grace period, which the removal respects
step "Remove scale-in protection from the old instances so the groups retire them" \
  scale-remove-old-instances prod ALL --yes
step "Running it again finds nothing to do" \
  scale-remove-old-instances prod ALL --yes
banner "Simulated: the groups terminate the unprotected old instances (AWS does; the emulator does not)"
"$BIN" sandbox retire prod --yes
step "Production after the release: only the new instances, running = desired" \
  ls-servers -e prod

step "Sign and push the release tag on stages/prod" \
  -C "$REPO" tag-release --rc 112 --yes
step "If it went wrong: the revert branch and the quick fleet rollback (the plan only)" \
  -C "$REPO" rollback --rc 112 --fleet prod --dry-run

banner "Done"
echo "The sandbox stops now. To practise by hand: login-release sandbox up; eval \"\$(login-release sandbox env)\""
