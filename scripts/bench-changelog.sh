#!/usr/bin/env bash
# Speed target of `login-release changelog`: 10,000 commits in under 0.3 s (release build),
# measured beside `git log` over the same range.
#
#   scripts/bench-changelog.sh [BIN]        BIN defaults to target/release/login-release
#
# Environment: BENCH_COMMITS (default 10000), BENCH_LIMIT_MS (default 300), BENCH_RUNS (default 10),
# BENCH_KEEP=1 keeps the generated repository and prints its path.
#
# The repository is generated with `git fast-import` in about a second: BENCH_COMMITS commits on
# `main` above a first commit that `stages/prod` points at, each touching one of 100 files, with
# the message shapes seen in identity-idp: plain `changelog:` lines (60%), squash bodies with
# bullets (15%), dependabot sign-offs (10%), reverts (5%), `[skip changelog]` (3%) and commits
# with no line (7%). Timing uses hyperfine when installed, else a loop over `date +%s%N`.
# Exits 1 when the changelog's mean time is over the limit or the command fails.
set -euo pipefail

BIN=${1:-target/release/login-release}
COMMITS=${BENCH_COMMITS:-10000}
LIMIT_MS=${BENCH_LIMIT_MS:-300}
RUNS=${BENCH_RUNS:-10}

if [ ! -x "$BIN" ]; then
  echo "error: $BIN is not an executable" >&2
  echo "help: build it first (make release), or pass the binary to time" >&2
  exit 3
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

tmp=$(mktemp -d)
if [ "${BENCH_KEEP:-0}" = 1 ]; then
  echo "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
repo=$tmp/repo
git init -q -b main "$repo"

start=$(date +%s%N)
LC_ALL=C awk -v n="$COMMITS" '
function data(s) { printf "data %d\n%s\n", length(s), s }
BEGIN {
  split("User-Facing Improvements,Bug Fixes,Internal,Upcoming Features,internal,Bugfix", cat, ",")
  split("Authentication,Logging,Security,Webauthn,Dependencies,Analytics,Doc Auth,SAML/OIDC (SP),IdV,PIV/CAC,Email,Phone,Accessibility,Performance,Developer Experience,CI", sub_, ",")
  t = 1700000000
  for (i = 0; i <= n; i++) {
    pr = 5000 + i
    k = i % 100
    c = cat[(i % 6) + 1]
    s = sub_[(i % 16) + 1]
    if (i == 0) {
      msg = "Initial commit"
    } else if (k < 60) {
      msg = sprintf("LG-%d: change number %d (#%d)\n\nchangelog: %s, %s, update the %s flow, with care (LG-%d)\n", i, i, pr, c, s, s, i)
    } else if (k < 75) {
      msg = sprintf("LG-%d: squashed work (#%d)\n\n* first step\n\n* changelog: %s, %s, improve step %d\n\n* fix linting\n\n* changelog: Internal, Tests, cover step %d\nCo-authored-by: A Person <a.person@gsa.gov>\n", i, pr, c, s, i, i)
    } else if (k < 85) {
      msg = sprintf("Bump gem-%d from 1.0.%d to 1.0.%d (#%d)\n\nBumps gem-%d.\n\n---\nupdated-dependencies:\n- dependency-name: gem-%d\n...\n\nSigned-off-by: dependabot[bot] <support@github.com>\nCo-authored-by: dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>\n", k, i, i + 1, pr, k, k)
    } else if (k < 90) {
      msg = sprintf("Revert \"LG-%d: change number %d (#%d)\" (#%d)\n\nThis reverts commit %040x.\n", i - 1, i - 1, pr - 1, pr, i)
    } else if (k < 93) {
      msg = sprintf("Tidy up %d (#%d)\n\n[skip changelog]\n", i, pr)
    } else {
      msg = sprintf("LG-%d account buttons part %d (#%d)\n", i, i, pr)
    }
    print "commit refs/heads/main"
    printf "mark :%d\n", i + 1
    printf "committer Bench <bench@example.gov> %d +0000\n", t + i * 60
    data(msg)
    if (i > 0) printf "from :%d\n", i
    print "M 644 inline file-" k ".txt"
    data(sprintf("content %d", i))
    print ""
  }
  print "reset refs/heads/stages/prod"
  print "from :1"
  print ""
}' | git -C "$repo" fast-import --quiet
git -C "$repo" checkout -q main
made=$(( ($(date +%s%N) - start) / 1000000 ))
range_count=$(git -C "$repo" rev-list --count stages/prod..main)
echo "changelog benchmark: $range_count commits in stages/prod..main (repository built in ${made} ms)"

changelog=("$BIN" -C "$repo" changelog --base stages/prod --source main)
gitlog=(git -C "$repo" log stages/prod..main)

# One checked run: it must succeed and print every category.
out=$("${changelog[@]}" 2>/dev/null) || { echo "error: the changelog command failed" >&2; exit 1; }
sections=$(grep -c '^## ' <<<"$out" || true)
lines=$(grep -c '^- ' <<<"$out" || true)
echo "output: $sections sections, $lines lines"

mean_ms() { # command... -> mean wall time in ms over RUNS runs, after one warm-up
  "$@" >/dev/null 2>&1 || true
  local total=0 t0 t1
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    total=$(( total + t1 - t0 ))
  done
  echo $(( total / RUNS / 1000000 ))
}

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 2 --runs "$RUNS" -N --export-json "$tmp/h.json" \
    -n "login-release changelog" "${changelog[*]}" \
    -n "git log" "${gitlog[*]}"
  cl_ms=$(jq '.results[0].mean * 1000 | floor' "$tmp/h.json")
  git_ms=$(jq '.results[1].mean * 1000 | floor' "$tmp/h.json")
else
  echo "(hyperfine not installed: mean of $RUNS runs timed with date)"
  cl_ms=$(mean_ms "${changelog[@]}")
  git_ms=$(mean_ms "${gitlog[@]}")
fi
printf '%-28s %6d ms\n' "login-release changelog" "$cl_ms" "git log" "$git_ms"
if [ "$cl_ms" -le "$LIMIT_MS" ]; then
  echo "PASS: changelog of $range_count commits in ${cl_ms} ms (limit ${LIMIT_MS} ms)"
else
  echo "FAIL: changelog of $range_count commits in ${cl_ms} ms (limit ${LIMIT_MS} ms)"
  exit 1
fi
