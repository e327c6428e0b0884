#!/usr/bin/env bash
# The walk of docs/published.md on an untrained supernet of a published space (the weights do not
# matter to the walk, only to its accuracy): a latency table of this CPU at 224 only, an accuracy
# data set and predictor on synthetic images, a search of three latency budgets at 224, the targets
# exported to ONNX and to ofa, and the exported subnet evaluated.
# Usage: published_walk.sh OFA SPACE WORKDIR
set -euo pipefail
ofa=$1
space=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
"$ofa" init --space "$space" --out "$work/supernet.ofa" --seed 7 | grep -q "untrained $space supernet"

"$ofa" latency-table --space "$space" --resolutions 224 --networks 2 --repeats 1 --threads 1 \
  --out "$work/latency.json" >"$work/latency.txt"
grep -q "resolution 224" "$work/latency.txt"
tr -d ' \n' <"$work/latency.json" | grep -q '"resolutions":\[224\]'
# The largest budget: three quarters of the way from the smallest subnet's predicted time to the largest's.
least=$(awk '$1 == "min@224" { print $2 }' "$work/latency.txt")
most=$(awk '$1 == "max@224" { print $2 }' "$work/latency.txt")
limit=$(awk -v a="$least" -v b="$most" 'BEGIN { printf "%.3f", a + (b - a) * 3 / 4 }')

"$ofa" acc-dataset --space "$space" --checkpoint "$work/supernet.ofa" --data synthetic:48 --holdout 16 \
  --out "$work/acc.jsonl" --subnets 10 --calibration-images 8 --batch 8 >/dev/null
[ "$(wc -l <"$work/acc.jsonl")" -eq 10 ]
"$ofa" fit-predictor --space "$space" --dataset "$work/acc.jsonl" --out "$work/predictor.ofa" --hidden 16 \
  --epochs 5 >/dev/null

# Three latency budgets up to that limit (--pareto 3), searched at the table's 224.
"$ofa" search --space "$space" --predictor "$work/predictor.ofa" --latency-table "$work/latency.json" \
  --constraint "latency<=${limit}ms" --pareto 3 --population 8 --generations 3 --out "$work/targets" \
  >"$work/search.txt"
for k in 1 2 3; do tr -d ' \n' <"$work/targets/target-$k.json" | grep -q '"r":\[224\]'; done

"$ofa" export --space "$space" --checkpoint "$work/supernet.ofa" --config "$work/targets/target-1.json" \
  --data synthetic:16 --calibration-images 8 --format onnx --out "$work/target-1.onnx" >/dev/null
[ -s "$work/target-1.onnx" ]
"$ofa" export --space "$space" --checkpoint "$work/supernet.ofa" --config "$work/targets/target-1.json" \
  --data synthetic:16 --calibration-images 8 --format ofa --out "$work/target-1.ofa" >/dev/null
"$ofa" eval --space "$space" --model "$work/target-1.ofa" --data synthetic:10 --json | grep -q '"top1"'
echo "published walk: $space ran end to end"
