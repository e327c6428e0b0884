#!/usr/bin/env bash
# SIGKILL at random moments, from start-up to the final write, then resume (or rerun), and check the
# end result: `ofa train` ends with the uninterrupted run's final.ofa, bit for bit; `ofa acc-dataset`
# holds every subnet exactly once with the uninterrupted values; `ofa latency-table` leaves either no
# table or one that loads; no temporary file stays behind anywhere.
# Usage: crash_anywhere.sh OFA WORKDIR [KILLS per command, default 20]
set -uo pipefail
ofa=$1 work=$2 kills=${3:-20}
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }
# Kills `command...` after a random 0 to MAX_MS milliseconds (it may have finished by then).
kill_after() {
  local max_ms=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(awk -v r="$RANDOM" -v m="$max_ms" 'BEGIN { printf "%.3f", (r / 32768) * m / 1000 }')"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
no_temporaries() { ! find "$1" -name '*.tmp*' | grep -q . || fail "a temporary file was left in $1: $(find "$1" -name '*.tmp*')"; }

printf '{"name": "tiny", "phases": [
  {"name": "full", "epochs": 2, "lr": 0.05, "rule": "fixed", "config": "max"},
  {"name": "kernel", "epochs": 1, "lr": 0.02, "kernels": [3, 5, 7], "depths": [4], "expands": [6], "kd_ratio": 1.0}]}' \
  >"$work/tiny.json"
train=(train --space cifar --data synthetic:192 --holdout 32 --schedule "$work/tiny.json" --batch 16 --seed 3 --threads 2
       --eval-images 16 --recalibration-images 16 --checkpoint-steps 2 --quiet)
start=$(date +%s%N)
"$ofa" "${train[@]}" --out "$work/straight" || fail "the uninterrupted run"
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
for i in $(seq 1 "$kills"); do
  dir=$work/train-$i
  kill_after $(( run_ms + 200 )) "$ofa" "${train[@]}" --out "$dir"
  if [ -f "$dir/checkpoint.ofa" ]; then
    "$ofa" "${train[@]}" --out "$dir" --resume || fail "resuming train-$i"
  else  # killed before the first checkpoint: nothing to resume, the same command starts it again
    "$ofa" "${train[@]}" --out "$dir" || fail "rerunning train-$i in its folder"
  fi
  cmp -s "$work/straight/final.ofa" "$dir/final.ofa" || fail "train-$i: not the uninterrupted weights"
  no_temporaries "$dir"
done
echo "ofa train: $kills kills at random moments, every resumed run bit for bit the uninterrupted one"

acc=(acc-dataset --space cifar --checkpoint "$work/straight/final.ofa" --subnets 12 --calibration-images 32 --batch 32
     --threads 2)
start=$(date +%s%N)
"$ofa" "${acc[@]}" --out "$work/acc.jsonl" >/dev/null || fail "the uninterrupted data set"
acc_ms=$(( ($(date +%s%N) - start) / 1000000 ))
strip() { sed 's/"seconds":[^,}]*[,]\{0,1\}//' "$1" | sort; }
for i in $(seq 1 "$kills"); do
  kill_after $(( acc_ms + 100 )) "$ofa" "${acc[@]}" --out "$work/acc-$i.jsonl"
  "$ofa" "${acc[@]}" --out "$work/acc-$i.jsonl" >/dev/null || fail "resuming acc-$i"
  [ "$(strip "$work/acc.jsonl")" = "$(strip "$work/acc-$i.jsonl")" ] || fail "acc-$i: records differ"
done
no_temporaries "$work"
echo "ofa acc-dataset: $kills kills, every resumed data set holds each subnet once, with the same values"

for i in $(seq 1 "$kills"); do
  kill_after 1500 "$ofa" latency-table --space cifar --networks 2 --repeats 1 --out "$work/lat-$i.json"
  if [ -e "$work/lat-$i.json" ]; then
    "$ofa" latency-table --space cifar --load "$work/lat-$i.json" >/dev/null 2>&1 || fail "lat-$i.json does not load"
  fi
done
no_temporaries "$work"
echo "ofa latency-table: $kills kills, never a corrupt table"
echo "crash anywhere: nothing lost"
