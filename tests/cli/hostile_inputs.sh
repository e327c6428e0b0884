#!/usr/bin/env bash
# The `ofa` command on inputs that once crashed it, overwrote an input or ran on garbage (the
# reliability probe's findings). Each must exit 1 with a one-line "ofa: error:" naming the fix,
# never with a signal, and leave every input as it was.
# Usage: hostile_inputs.sh OFA WORKDIR
set -uo pipefail
ofa=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
failures=0

# refused "what it must say" ofa-arguments...: exit 1 (not a crash), one line on stderr, the text in it.
refused() {
  local says=$1
  shift
  local err rc
  err=$("$ofa" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -ne 1 ] || [[ "$err" != *"$says"* ]] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
    echo "FAILED: ofa $* -> exit $rc: $err (wanted exit 1 and '$says')" >&2
    failures=$((failures + 1))
  fi
}

# A subnet config nested 20,000 arrays deep (SIGSEGV while the message dumped it).
"$ofa" sample --space cifar --count 1 >"$work/one.json"
deep=$(printf '%*s' 20000 '' | tr ' ' '[')3$(printf '%*s' 20000 '' | tr ' ' ']')
sed "s/\"r\":\[[0-9]*\]/\"r\":[$deep]/" "$work/one.json" >"$work/deep.json"
refused "must be an integer, got [[[[...]]]]" profile --space cifar --config "$work/deep.json"

# Sizes past any real data set or schedule (std::bad_alloc, or training "-294967296 epochs").
refused "the count after synthetic: must be a whole number" bench data --data synthetic:99999999999
refused "the count after synthetic: must be a whole number" bench data --data synthetic:-1
printf '{"phases": [{"subnets_per_step": 2000000000}]}' >"$work/draws.json"
refused "subnets_per_step must be a whole number" train --schedule "$work/draws.json" --out "$work/r1"
printf '{"phases": [{"epochs": 4294967297}]}' >"$work/epochs.json"
refused "epochs must be a whole number" train --schedule "$work/epochs.json" --out "$work/r2"
refused "--epochs-scale" train --epochs-scale 1e9 --out "$work/r3"
refused "--epochs-scale" train --epochs-scale inf --out "$work/r4"

# IDX labels of 255 for a 10-class space (a read and write past the logits under ASan).
idx="$work/idx"
mkdir -p "$idx"
for split in train t10k; do
  { printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02'; head -c 8 /dev/zero; } \
    >"$idx/$split-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\xff' >"$idx/$split-labels-idx1-ubyte"
done
refused "has 256 classes" eval --space cifar --checkpoint "$work/none.ofa" --config max --data "idx:$idx"
refused "has 256 classes" eval --space cifar --model "$work/none.ofa" --data "idx:$idx"

# An output that names an input: refused before it is touched.
printf 'keep me\n' >"$work/input.jsonl"
refused "is the --dataset it reads" fit-predictor --space cifar --dataset "$work/input.jsonl" --out "$work/input.jsonl"
refused "is the --checkpoint it reads" export --space cifar --checkpoint "$work/input.jsonl" --config max \
  --out "$work/input.jsonl"
refused "is the --checkpoint it reads" acc-dataset --space cifar --checkpoint "$work/input.jsonl" \
  --out "$work/./input.jsonl"
[ "$(cat "$work/input.jsonl")" = "keep me" ] || { echo "FAILED: an input was overwritten" >&2; failures=$((failures + 1)); }

# A folder that holds a finished run (here its final network alone, the checkpoint removed), and a
# folder another run holds locked.
mkdir -p "$work/done" "$work/busy"
printf 'weights' >"$work/done/final.ofa"
refused "already holds a run (its final.ofa)" train --data synthetic:64 --out "$work/done"
[ "$(cat "$work/done/final.ofa")" = 'weights' ] || { echo "FAILED: final.ofa changed" >&2; failures=$((failures + 1)); }
flock "$work/busy/.lock" sleep 30 &
holder=$!
sleep 0.3
refused "is in use by another ofa run" train --data synthetic:64 --out "$work/busy"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

if [ $failures -ne 0 ]; then
  echo "$failures hostile inputs were not refused as they should be" >&2
  exit 1
fi
echo "every hostile input refused with a one-line error"
