#!/usr/bin/env bash
# The main job: set up, build the `ofa` command, and run Once-for-All end to end on real images
# (Fashion-MNIST from Debian; the embedded synthetic set where it is missing): train, latency table,
# accuracy data set, predictor, search, export:
# scripts/pipeline.sh, whose options it passes on (e.g. --data folder:DIR for your own images).
# Usage: scripts/demo.sh [pipeline options]      (build dir: build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target ofa_cli
exec scripts/pipeline.sh "$@"
