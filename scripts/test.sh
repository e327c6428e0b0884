#!/usr/bin/env bash
# Set up, build and run the test suite: by default the Release suite, everything a user's build
# needs (about 10 minutes on 2 cores with an empty compiler cache). CI (.ci/run) runs it, then the
# address + undefined sanitizer preset, the thread sanitizer preset and a short fuzzing of every reader.
# Usage: scripts/test.sh [preset ...]   (default: release; e.g. scripts/test.sh release asan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(release)
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
