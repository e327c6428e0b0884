#!/usr/bin/env bash
# static_net against ONNX Runtime on the same exported subnets, side by side: batch-1 median
# latency, same thread count. Weights do not change the timing: without --checkpoint an untrained
# supernet (`ofa init`) is used. Needs onnxruntime-node (scripts/setup.sh --tests puts it in build/tools).
# Usage: bench/onnx_latency.sh [--space S] [--checkpoint F] [--threads T] [--resolutions "R..."]
#                              [--configs "min mid max|FILE..."] [--repetitions N]
# (defaults: cifar, build/pipeline/run/final.ofa, 1, "24 32", "min mid max", 201)
set -euo pipefail
cd "$(dirname "$0")/.."
space=cifar checkpoint= threads=1 resolutions="24 32" configs="min mid max" reps=201
while [ $# -gt 0 ]; do
  case $1 in
    --space) space=$2 ;; --checkpoint) checkpoint=$2 ;; --threads) threads=$2 ;;
    --resolutions) resolutions=$2 ;; --configs) configs=$2 ;; --repetitions) reps=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
ofa=${OFA:-build/release/bin/ofa}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$checkpoint" ]; then
  if [ "$space" = cifar ] && [ -s build/pipeline/run/final.ofa ]; then
    checkpoint=build/pipeline/run/final.ofa
  else
    checkpoint=$work/untrained.ofa
    "$ofa" init --space "$space" --out "$checkpoint" >/dev/null
  fi
fi
printf "%-14s %-8s %5s %7s %12s %12s %10s\n" space config res threads static_ms ort_ms static/ort
for config in $configs; do
  for r in $resolutions; do
    "$ofa" bench infer --space "$space" --config "$config" --resolution "$r" --batch 1 --threads "$threads" \
      --repetitions "$reps" --json >"$work/static.json"
    cfg="$work/$(basename "$config" .json)-$r.json"
    static=$(grep -o '"ms":[0-9.e+-]*' "$work/static.json" | cut -d: -f2)
    # The same subnet (the config bench infer timed, resolution included) exported from the supernet.
    grep -o '"config":{[^}]*}' "$work/static.json" | sed 's/^"config"://' >"$cfg"
    "$ofa" export --space "$space" --checkpoint "$checkpoint" --config "$cfg" --format onnx \
      --out "$work/m.onnx" --data synthetic:64 --calibration-images 16 >/dev/null  # BN values do not change timing
    ort=$(NODE_PATH=build/tools/node_modules node bench/ort_latency.js "$work/m.onnx" 1 "$r" "$threads" "$reps" |
      grep -o '[0-9.e+-]*$')
    printf "%-14s %-8s %5s %7s %12.4f %12.4f %10.3f\n" "$space" "$(basename "$config" .json)" "$r" "$threads" \
      "$static" "$ort" "$(awk -v a="$static" -v b="$ort" 'BEGIN { print a / b }')"
  done
done
