#!/usr/bin/env bash
# Set up, build and run the whole test suite.
# Usage: scripts/test.sh [preset ...]   (default: release asan — what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(release asan)
jobs=$(nproc 2>/dev/null || echo 2)
# ccache: hash paths relative to the checkout, so a fresh clone (CI) hits the cache too.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
for preset in "${presets[@]}"; do
  echo "== ofa tests, preset $preset"
  start=$(date +%s)
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== build ($preset) took $(( $(date +%s) - start )) s"
  ctest --preset "$preset" -j "$jobs"
done
