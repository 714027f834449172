#!/usr/bin/env bash
# Speed target of `login-release changelog` (issue 9, item 9): over identity-idp-sized history
# (13,000 commits) it costs at most 1.3x `git log --format=%s%n%b` over the same range (the floor:
# git reading the same messages), and under 0.39 s (0.3 s per 10,000 commits). Release build.
#
#   scripts/bench-changelog.sh [BIN]        BIN defaults to target/release/login-release
#
# Environment: BENCH_COMMITS (default 13000), BENCH_MAX_RATIO (default 1.3), BENCH_LIMIT_MS
# (default 390), BENCH_RUNS (default 10), BENCH_KEEP=1 keeps the generated repository and prints
# its path.
#
# The repository is generated with `git fast-import` in about a second: BENCH_COMMITS commits on
# `main` above a first commit that `stages/prod` points at, each touching one of 100 files, with
# the message shapes seen in identity-idp: plain `changelog:` lines (60%), squash bodies with
# bullets (15%), dependabot sign-offs (10%), reverts (5%), `[skip changelog]` (3%) and commits
# with no line (7%). Timing uses hyperfine when installed, else a loop over `date +%s%N`.
# The repository is the same on every run: fixed messages, author and committer dates (one
# commit a minute from 2023-11-14T22:13:20Z), so its shas are too.
# Exits 1 when the changelog's mean time is over the ratio or the limit, or the command fails.
set -euo pipefail

BIN=${1:-target/release/login-release}
COMMITS=${BENCH_COMMITS:-13000}
MAX_RATIO=${BENCH_MAX_RATIO:-1.3}
LIMIT_MS=${BENCH_LIMIT_MS:-390}
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
# The floor: git reading every subject and body of the range, no diffs.
gitlog=(git -C "$repo" log --format=%s%n%b stages/prod..main)

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
    -n "git log --format=%s%n%b" "${gitlog[*]}"
  cl_us=$(jq '.results[0].mean * 1000000 | floor' "$tmp/h.json")
  git_us=$(jq '.results[1].mean * 1000000 | floor' "$tmp/h.json")
else
  echo "(hyperfine not installed: mean of $RUNS runs timed with date)"
  cl_us=$(( $(mean_ms "${changelog[@]}") * 1000 ))
  git_us=$(( $(mean_ms "${gitlog[@]}") * 1000 ))
fi
ratio=$(awk -v a="$cl_us" -v b="$git_us" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf '%-28s %8.1f ms\n' "login-release changelog" "$(awk -v u="$cl_us" 'BEGIN { print u / 1000 }')" \
  "git log --format=%s%n%b" "$(awk -v u="$git_us" 'BEGIN { print u / 1000 }')"
cl_ms=$(( cl_us / 1000 ))
verdict="changelog of $range_count commits in ${cl_ms} ms, ${ratio}x git log (limits ${MAX_RATIO}x, ${LIMIT_MS} ms)"
if awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN { exit !(r <= m) }' && [ "$cl_ms" -le "$LIMIT_MS" ]; then
  echo "PASS: $verdict"
else
  echo "FAIL: $verdict"
  exit 1
fi
