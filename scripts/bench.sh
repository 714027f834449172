#!/usr/bin/env bash
# `make bench`: every speed target of login-release, one after another.
#
#   scripts/bench.sh BIN        (make bench passes target/release/login-release)
#
# Each benchmark is a script that takes the binary, prints its measurements beside a baseline and
# exits non-zero when its target is missed. This script runs them all and fails if any failed.
set -euo pipefail

BIN=${1:?usage: scripts/bench.sh path/to/login-release}
here=$(cd "$(dirname "$0")" && pwd)

# hyperfine gives mean and spread; install it when we can, else the scripts time a loop.
if ! command -v hyperfine >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1; then
    echo "installed hyperfine"
  else
    echo "hyperfine not available: timing with a loop"
  fi
fi

failed=0
run() {
  echo
  echo "== $1"
  "$here/$1" "$BIN" || failed=$((failed + 1))
}

run bench-changelog.sh

# --- Other benchmarks: append one `run <script>` line each, below this one. -----------------
run bench-ls-servers.sh

echo
if [ "$failed" -gt 0 ]; then
  echo "$failed benchmark(s) missed their target"
  exit 1
fi
echo "all benchmarks met their targets"
