#!/usr/bin/env bash
# static_net against ONNX Runtime on the same exported subnets, side by side: batch-1 median
# latency, same thread count. Needs a trained supernet (weights do not change the timing; the
# pipeline's will do) and onnxruntime-node (scripts/setup.sh --tests puts it in build/tools).
# Usage: bench/onnx_latency.sh [CHECKPOINT] [THREADS]   (default: build/pipeline/run/final.ofa, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=${1:-build/pipeline/run/final.ofa}
threads=${2:-1}
ofa=${OFA:-build/release/bin/ofa}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf "%-6s %5s %12s %12s %14s\n" config res static_ms ort_ms static/ort
for config in min mid max; do
  for r in 24 32; do
    "$ofa" bench infer --space cifar --config "$config" --resolution "$r" --batch 1 --threads "$threads" \
      --repetitions 201 --json >"$work/static.json"
    cfg="$work/$config-$r.json"
    static=$(grep -o '"ms":[0-9.e+-]*' "$work/static.json" | cut -d: -f2)
    # The same subnet (the config bench infer timed, resolution included) exported from the supernet.
    grep -o '"config":{[^}]*}' "$work/static.json" | sed 's/^"config"://' >"$cfg"
    "$ofa" export --space cifar --checkpoint "$checkpoint" --config "$cfg" --format onnx \
      --out "$work/m.onnx" --calibration-images 100 >/dev/null
    ort=$(NODE_PATH=build/tools/node_modules node bench/ort_latency.js "$work/m.onnx" 1 "$r" "$threads" 201 |
      grep -o '[0-9.e+-]*$')
    printf "%-6s %5s %12.4f %12.4f %14.2f\n" "$config" "$r" "$static" "$ort" "$(awk -v a="$static" -v b="$ort" 'BEGIN { print a / b }')"
  done
done
