#!/usr/bin/env bash
# `ofa train` killed with SIGKILL mid-run and resumed ends with the same weights, bit for bit,
# as the same run never interrupted; SIGINT writes a checkpoint and exits 0 saying how to resume.
# Usage: kill_resume.sh OFA WORKDIR
set -euo pipefail
ofa=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
schedule="$work/tiny.json"
cat >"$schedule" <<'JSON'
{"name": "tiny", "phases": [
  {"name": "full", "epochs": 2, "lr": 0.05, "rule": "fixed", "config": "min"},
  {"name": "kernel", "epochs": 2, "lr": 0.02, "kernels": [3, 5, 7], "depths": [2], "expands": [3], "kd_ratio": 1.0}]}
JSON
args=(train --space cifar --data synthetic:96 --schedule "$schedule" --batch 8 --seed 5 --threads 2
      --eval-images 8 --recalibration-images 8 --no-epoch-eval --checkpoint-steps 3)

"$ofa" "${args[@]}" --quiet --out "$work/straight"

# SIGKILL as soon as the first mid-epoch checkpoint exists, then resume (twice if need be).
"$ofa" "${args[@]}" --quiet --out "$work/killed" &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$work/killed/checkpoint.ofa" ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -f "$work/killed/checkpoint.ofa" ] || { echo "no checkpoint was written before the kill" >&2; exit 1; }
if [ -f "$work/killed/final.ofa" ]; then echo "the run finished before it could be killed" >&2; exit 1; fi
"$ofa" "${args[@]}" --quiet --out "$work/killed" --resume
cmp "$work/straight/final.ofa" "$work/killed/final.ofa"

# SIGINT: a checkpoint, exit status 0, and the way to resume.
"$ofa" "${args[@]}" --out "$work/interrupted" >"$work/interrupted.txt" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$work/interrupted/checkpoint.ofa" ] && break
  sleep 0.05
done
kill -INT "$pid" 2>/dev/null || { echo "SIGINT: the run had already ended" >&2; cat "$work/interrupted.txt" >&2; exit 1; }
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { echo "SIGINT: exit status $status" >&2; cat "$work/interrupted.txt" >&2; exit 1; }
grep -q -e "interrupted: checkpoint written.*--resume" "$work/interrupted.txt" ||
  { echo "SIGINT: no line saying how to resume" >&2; cat "$work/interrupted.txt" >&2; exit 1; }
"$ofa" "${args[@]}" --quiet --out "$work/interrupted" --resume
cmp "$work/straight/final.ofa" "$work/interrupted/final.ofa"
echo "kill -9 and SIGINT runs resumed to the uninterrupted weights"
