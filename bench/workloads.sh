#!/usr/bin/env bash
# The whole-network workloads W1-W5 of bench/RESULTS.md: ofa and its PyTorch twin, each
# workload ofa then PyTorch in the same round, 2 threads. Prints one line per workload.
# Usage: bench/workloads.sh [ROUNDS] [W...]      (build first: cmake --preset bench && cmake --build --preset bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
shift || true
ofa=build/bench/bin/ofa
[ -x "$ofa" ] || { echo "workloads.sh: $ofa is missing; run cmake --preset bench && cmake --build --preset bench" >&2; exit 1; }
# PyTorch with Debian's reference BLAS runs 4x slower than with OpenBLAS: compare against the latter.
for p in python3-torch libopenblas0-openmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "workloads.sh: install $p first (apt-get install python3-torch libopenblas0-openmp)" >&2; exit 1; }
done
declare -A args=(
  [W1]="train --space mbv3 --config max --batch 16 --resolution 128"
  [W2]="train --space mbv3 --config min --batch 16 --resolution 128"
  [W3]="train --space cifar --config max --batch 64 --resolution 32"
  [W4]="infer --space mbv3 --config mid --batch 1 --resolution 224 --repetitions 21"
  [W5]="infer --space mbv3 --config max --batch 1 --resolution 224 --repetitions 21"
)
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(W1 W2 W3 W4 W5)
field() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.readline()); print(round(d['$1'], 2))"; }
for ((r = 1; r <= rounds; ++r)); do
  for w in "${workloads[@]}"; do
    o=$($ofa bench ${args[$w]} --threads 2 --json)
    p=$(/usr/bin/python3 bench/pytorch_twin.py ${args[$w]} --threads 2)
    if [[ ${args[$w]} == train* ]]; then
      a=$(field images_per_s <<<"$o"); b=$(field images_per_s <<<"$p")
      echo "$w round $r: ofa $a img/s ($(field peak_fraction <<<"$o") of peak), pytorch $b img/s, ratio $(/usr/bin/python3 -c "print(round($a/$b, 2))")x"
    else
      a=$(field ms <<<"$o"); b=$(field ms <<<"$p")
      echo "$w round $r: ofa $a ms, pytorch $b ms, ratio $(/usr/bin/python3 -c "print(round($a/$b, 2))")"
    fi
  done
done
