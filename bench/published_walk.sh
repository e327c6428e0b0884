#!/usr/bin/env bash
# The figures of docs/published.md for one published space on this CPU: a latency table at 224
# (1 thread) and its check on 100 random subnets (within ±10%, Kendall's tau), the search of three
# latency budgets at 224 (its time, with a predictor of the reference's size: 3 hidden layers of
# 400), and each target's batch-1 latency in static_net and in ONNX Runtime on 1 and 2 threads.
# Weights do not change any of these timings: an untrained supernet (ofa init) stands in for the
# published one. Usage: bench/published_walk.sh SPACE [WORKDIR]   (needs onnxruntime-node)
set -euo pipefail
cd "$(dirname "$0")/.."
space=$1
work=${2:-build/walk/$space}
ofa=${OFA:-build/release/bin/ofa}
mkdir -p "$work"
echo "== $space on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
"$ofa" init --space "$space" --out "$work/supernet.ofa" >/dev/null
"$ofa" latency-table --space "$space" --resolutions 224 --threads 1 --out "$work/latency.json" --validate 100 \
  --validate-csv "$work/check.csv" | tr '\r' '\n' | grep -v "^measuring\|^validating" | tee "$work/latency.txt"
# Kendall's tau between the table's and the measured milliseconds of the 100 subnets.
awk -F, 'NR > 1 { p[n] = $1; m[n] = $2; n++ }
  END { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) { s = (p[i] - p[j]) * (m[i] - m[j]); c += s > 0; d += s < 0 }
        printf "Kendall tau (table against measured, %d subnets): %.3f\n", n, (c - d) / (n * (n - 1) / 2) }' \
  "$work/check.csv"

"$ofa" acc-dataset --space "$space" --checkpoint "$work/supernet.ofa" --data synthetic:64 --holdout 16 \
  --out "$work/acc.jsonl" --subnets 10 --calibration-images 8 --batch 8 >/dev/null
"$ofa" fit-predictor --space "$space" --dataset "$work/acc.jsonl" --out "$work/predictor.ofa" --hidden 400 \
  --layers 3 --epochs 5 >/dev/null
least=$(awk '$1 == "min@224" { print $2 }' "$work/latency.txt")
most=$(awk '$1 == "max@224" { print $2 }' "$work/latency.txt")
limit=$(awk -v a="$least" -v b="$most" 'BEGIN { printf "%.2f", a + (b - a) * 3 / 4 }')
start=$(date +%s.%N)
"$ofa" search --space "$space" --predictor "$work/predictor.ofa" --latency-table "$work/latency.json" \
  --constraint "latency<=${limit}ms" --pareto 3 --out "$work/targets" | tee "$work/search.txt" | head -4
awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "search of 3 budgets (population 100, 500 generations): %.1f s\n", e - s }'

for threads in 1 2; do
  bench/onnx_latency.sh --space "$space" --checkpoint "$work/supernet.ofa" --threads "$threads" --resolutions 224 \
    --configs "$work/targets/target-1.json $work/targets/target-2.json $work/targets/target-3.json" |
    { [ "$threads" = 1 ] && cat || tail -n +2; }
done
