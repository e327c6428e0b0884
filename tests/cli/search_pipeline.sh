#!/usr/bin/env bash
# The specialisation commands end to end on a tiny run: latency table, accuracy data set (and its
# resume), predictor, search with measurement and re-ranking, export to both formats, eval of the export; and
# the refusals: an impossible budget, a predictor or table of another space.
# Usage: search_pipeline.sh OFA WORKDIR
set -euo pipefail
ofa=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
cat >"$work/tiny.json" <<'JSON'
{"name": "tiny", "phases": [
  {"name": "full", "epochs": 1, "lr": 0.05, "rule": "fixed", "config": "max"},
  {"name": "all", "epochs": 1, "lr": 0.02, "subnets_per_step": 2, "kernels": [3, 5, 7], "depths": [2, 3, 4],
   "expands": [3, 4, 6], "kd_ratio": 1.0}]}
JSON
fails_with() {  # fails_with REGEX COMMAND...: the command must fail and say REGEX
  local regex=$1; shift
  if out=$("$@" 2>&1); then echo "expected a failure: $*" >&2; exit 1; fi
  grep -qE "$regex" <<<"$out" || { echo "expected '$regex' from: $*, got: $out" >&2; exit 1; }
}
"$ofa" train --space cifar --data synthetic:200 --out "$work/run" --schedule "$work/tiny.json" --batch 16 \
  --threads 2 --quiet --no-epoch-eval --eval-images 20 --recalibration-images 32
grep -q '"holdout": 20' "$work/run/data.json"

"$ofa" latency-table --space cifar --out "$work/latency.json" --repeats 2 >/dev/null
"$ofa" latency-table --space cifar --load "$work/latency.json" --validate 2 --repeats 2 | grep -q "random subnets"

"$ofa" acc-dataset --space cifar --checkpoint "$work/run/final.ofa" --out "$work/acc.jsonl" --subnets 8 \
  --calibration-images 32 --batch 16 >/dev/null
# Continued to 12: only the 4 missing subnets are measured.
"$ofa" acc-dataset --space cifar --checkpoint "$work/run/final.ofa" --out "$work/acc.jsonl" --subnets 12 \
  --calibration-images 32 --batch 16 | grep -c "^subnet " | grep -qx 4
[ "$(wc -l <"$work/acc.jsonl")" -eq 12 ]

"$ofa" fit-predictor --space cifar --dataset "$work/acc.jsonl" --out "$work/pred.ofa" --hidden 32 --epochs 20 --json |
  grep -q '"test_kendall_tau"'

"$ofa" search --space cifar --predictor "$work/pred.ofa" --latency-table "$work/latency.json" \
  --constraint 'macs<=40M' --constraint 'latency<=100ms' --pareto 2 --generations 20 --population 20 \
  --checkpoint "$work/run/final.ofa" --calibration-images 32 --images 20 --rerank 3 --baseline 2 --out "$work/search" \
  >"$work/search.txt"
grep -q "measured" "$work/search.txt"
grep -q "±: the predictor's error on the subnets held out" "$work/search.txt"  # each prediction's uncertainty
grep -q '"extrapolated"' "$work/search/search.json"
grep -q '"held_out_top1"' "$work/search/search.json"  # the finalists re-ranked on the run's held-out images
grep -q '"best_random_held_out_top1"' "$work/search/search.json"  # the random baseline chosen on held-out images
for f in search.json target-1.json target-2.json pareto.csv pareto.svg; do [ -s "$work/search/$f" ]; done
grep -q ',"{""d"":\[' "$work/search/pareto.csv"  # a config is one CSV field, its quotes doubled

"$ofa" export --space cifar --checkpoint "$work/run/final.ofa" --config "$work/search/target-1.json" \
  --format onnx --out "$work/t1.onnx" --calibration-images 32 >/dev/null
"$ofa" export --space cifar --checkpoint "$work/run/final.ofa" --config "$work/search/target-1.json" \
  --format ofa --out "$work/t1.ofa" --calibration-images 32 >/dev/null
[ -s "$work/t1.onnx" ]
"$ofa" eval --space cifar --model "$work/t1.ofa" --data synthetic:200 --json | grep -q '"top1"'

fails_with "no subnet of the space meets 'macs<=1M'" \
  "$ofa" search --space cifar --predictor "$work/pred.ofa" --constraint 'macs<=1M'
fails_with "give the supernet with --checkpoint" \
  "$ofa" search --space cifar --predictor "$work/pred.ofa" --constraint 'macs<=40M' --rerank 3
fails_with "not in range" "$ofa" search --space cifar --predictor "$work/pred.ofa" --constraint 'macs<=40M' \
  --finalist-difference 0
fails_with "different space" "$ofa" search --space mbv3 --predictor "$work/pred.ofa" --constraint 'macs<=300M'
fails_with "measured for another space" "$ofa" latency-table --space mbv3 --load "$work/latency.json"
fails_with "needs a latency table" "$ofa" search --space cifar --predictor "$work/pred.ofa" --constraint 'latency<=5ms'
fails_with "is not one of ofa, onnx" "$ofa" export --space cifar --checkpoint "$work/run/final.ofa" --config max \
  --format tflite --out "$work/x"
echo "search pipeline: every step ran and every bad input was refused"
