#!/usr/bin/env bash
# The ResNet family through every command, on the CIFAR-scale ResNet space and synthetic images:
# progressive shrinking in the ResNet order (full, depth, expand, width), evaluation, a latency
# table checked on random subnets, an accuracy data set, a predictor, a search under a MAC and a
# latency budget, export to ONNX and to ofa, and evaluation of the export.
# Usage: resnet_walk.sh OFA WORKDIR
set -euo pipefail
ofa=$1
work=$2
space=(--space cifar-resnet)
rm -rf "$work"
mkdir -p "$work"
"$ofa" train "${space[@]}" --data synthetic:200 --out "$work/run" --epochs-scale 0.05 --batch 16 --threads 2 \
  --quiet --no-epoch-eval --eval-images 20 --recalibration-images 32 >"$work/train.txt"
for phase in full depth-1 depth-2 expand-1 expand-2 width-1 width-2; do
  grep -q "\"$phase\"" "$work/run/log.jsonl" || { echo "phase $phase did not run" >&2; exit 1; }
done
"$ofa" eval "${space[@]}" --checkpoint "$work/run/final.ofa" --data synthetic:200 --ladder --json | grep -q '"top1"'

"$ofa" latency-table "${space[@]}" --out "$work/latency.json" --repeats 2 >/dev/null
grep -q '"deep_stem-' "$work/latency.json"
grep -q '"bottleneck-' "$work/latency.json"
"$ofa" latency-table "${space[@]}" --load "$work/latency.json" --validate 3 --repeats 2 | grep -q "random subnets"

"$ofa" acc-dataset "${space[@]}" --checkpoint "$work/run/final.ofa" --out "$work/acc.jsonl" --subnets 10 \
  --calibration-images 32 --batch 16 >/dev/null
grep -q '"w":\[' "$work/acc.jsonl"  # the reference's ResNet arch dicts
"$ofa" fit-predictor "${space[@]}" --dataset "$work/acc.jsonl" --out "$work/pred.ofa" --hidden 16 --epochs 10 \
  >/dev/null

"$ofa" search "${space[@]}" --predictor "$work/pred.ofa" --latency-table "$work/latency.json" \
  --constraint 'macs<=30M' --constraint 'latency<=100ms' --generations 10 --population 20 \
  --checkpoint "$work/run/final.ofa" --calibration-images 32 --images 20 --out "$work/search" >"$work/search.txt"
grep -q " w\[" "$work/search.txt"
"$ofa" profile "${space[@]}" --config "$work/search/target-1.json" | grep -qE "MACs"

for format in onnx ofa; do
  "$ofa" export "${space[@]}" --checkpoint "$work/run/final.ofa" --config "$work/search/target-1.json" \
    --format $format --out "$work/t1.$format" --calibration-images 32 >/dev/null
  [ -s "$work/t1.$format" ]
done
"$ofa" eval "${space[@]}" --model "$work/t1.ofa" --data synthetic:200 --json | grep -q '"top1"'
echo "the ResNet family ran through every command"
