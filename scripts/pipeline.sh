#!/usr/bin/env bash
# Once-for-All from end to end on this machine: train a supernet with progressive shrinking,
# measure a latency table of this CPU and an accuracy data set, fit the accuracy predictor,
# search a subnet for three budgets, export each (ofa static_net and ONNX) and measure it.
#
# Usage: scripts/pipeline.sh [--data SPEC] [--out DIR] [--epochs-scale F] [--subnets N] [--threads N]
#   --data          default: 7,000 Fashion-MNIST training images (Debian's dataset-fashion-mnist, which
#                   scripts/setup.sh installs; its 10,000 test images measure the targets), or where that is
#                   missing synthetic:4000 (embedded: no files); or folder:DIR, cifar10-bin:DIR, idx:DIR[@N]
#   --out           where everything goes (default build/pipeline); a finished step is not redone
#   --epochs-scale  the progressive-shrinking schedule's length (default 0.05: one epoch a phase)
#   --subnets       size of the accuracy data set (default 100, each measured on 2,000 held-out images: with
#                   500, label noise (2.0%) exceeded the subnets' spread (1.5%) and the predictor ranked at tau 0.24)
# It expects the ofa command at $OFA (default build/release/bin/ofa; scripts/demo.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
fashion=/usr/share/datasets/fashion-mnist
data=synthetic:4000
[ -f "$fashion/train-images-idx3-ubyte.gz" ] && data="idx:$fashion@7000"
out=build/pipeline scale=0.05 subnets=100 threads=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --epochs-scale) scale="$2"; shift 2 ;;
    --subnets) subnets="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "pipeline.sh: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
ofa="${OFA:-build/release/bin/ofa}"
[ -x "$ofa" ] || { echo "pipeline.sh: no ofa command at '$ofa'; build it (scripts/demo.sh) or set OFA" >&2; exit 1; }
mkdir -p "$out"
start=$SECONDS
step() { echo; echo "== [$((SECONDS - start)) s] $*"; }

step "1/6 train the supernet: progressive shrinking (ofa train)"
if [ -f "$out/run/final.ofa" ]; then
  echo "already trained: $out/run/final.ofa"
elif [ -f "$out/run/checkpoint.ofa" ]; then
  "$ofa" train --space cifar --data "$data" --out "$out/run" --epochs-scale "$scale" --threads "$threads" \
    --no-epoch-eval --eval-images 1000 --recalibration-images 500 --holdout 2000 --resume
else
  "$ofa" train --space cifar --data "$data" --out "$out/run" --epochs-scale "$scale" --threads "$threads" \
    --no-epoch-eval --eval-images 1000 --recalibration-images 500 --holdout 2000
fi

step "2/6 latency table of this CPU, batch 1, 1 thread (ofa latency-table)"
[ -f "$out/latency.json" ] || "$ofa" latency-table --space cifar --out "$out/latency.json" --repeats 30 --validate 20

step "3/6 accuracy data set: $subnets random subnets on held-out training images (ofa acc-dataset)"
"$ofa" acc-dataset --space cifar --checkpoint "$out/run/final.ofa" --out "$out/accuracy.jsonl" --subnets "$subnets" \
  --calibration-images 500 --threads "$threads" | tail -n 4

step "4/6 accuracy predictor (ofa fit-predictor)"
"$ofa" fit-predictor --space cifar --dataset "$out/accuracy.jsonl" --out "$out/predictor.ofa" --threads "$threads"

step "5/6 search: three MACs budgets; each budget's 10 best predicted subnets and 10 random ones measured on the held-out images, the best of each on 2,000 test images (ofa search)"
"$ofa" search --space cifar --predictor "$out/predictor.ofa" --latency-table "$out/latency.json" \
  --constraint 'macs<=64M' --pareto 3 --checkpoint "$out/run/final.ofa" --calibration-images 500 \
  --images 2000 --rerank 10 --baseline 10 \
  --threads "$threads" --out "$out/search" | tee "$out/search.txt"

step "6/6 export each target (ofa export) and run the exported subnet (ofa eval --model)"
for k in 1 2 3; do
  "$ofa" export --space cifar --checkpoint "$out/run/final.ofa" --config "$out/search/target-$k.json" \
    --format ofa --out "$out/target-$k.ofa" --calibration-images 500
  "$ofa" export --space cifar --checkpoint "$out/run/final.ofa" --config "$out/search/target-$k.json" \
    --format onnx --out "$out/target-$k.onnx" --calibration-images 500
  "$ofa" eval --space cifar --model "$out/target-$k.ofa" --data "$data" | tail -n 1
done

echo
echo "== done in $((SECONDS - start)) s. Per target (budget, subnet, MACs, params, predicted latency and top-1, measured top-1 and latency):"
cat "$out/search.txt"
echo "Pareto front: $out/search/pareto.svg (and .csv); exported models: $out/target-{1,2,3}.{ofa,onnx}; training curves: $out/run/"
