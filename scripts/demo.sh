#!/usr/bin/env bash
# The main job: set up, build the `ofa` command, and run it on the bundled spaces.
# Usage: scripts/demo.sh            (build dir: build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release --target ofa_cli
for space in mbv3 cifar; do
  echo "== ofa info --space $space"
  build/release/bin/ofa info --space "$space"
done
echo "== ofa profile --space mbv3 --config min --resolution 224"
build/release/bin/ofa profile --space mbv3 --config min --resolution 224
echo "== ofa sample --space mbv3 --count 2 --seed 0"
build/release/bin/ofa sample --space mbv3 --count 2 --seed 0
echo "== ofa bench data --data synthetic:4096 (the embedded data set through the loader)"
build/release/bin/ofa bench data --data synthetic:4096 --batch 256
echo "== ofa bench infer --space cifar --config mid (a subnet extracted from the supernet)"
build/release/bin/ofa bench infer --space cifar --config mid --batch 1 --repetitions 21
