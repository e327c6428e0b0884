#!/usr/bin/env bash
# Data-parallel `ofa train` on MPI, on this machine (processes beyond its cores oversubscribe it):
#  1. -np 2 ends with the bits of one process with --accumulate 2 (same batch, data and seed);
#  2. -np 4 (and -np 2 --accumulate 2) within float rounding of --accumulate 4 after a step (MPI's
#     reduction associates the sum of four gradients differently: the last bits change);
#  3. one process killed with SIGKILL mid-run: the run ends (non-zero) instead of hanging, the last
#     checkpoint loads, and --resume with the same -np finishes with the uninterrupted run's bits;
#  4. a batch that does not split into the processes is refused before any work.
# Usage: mpi_train.sh MPIRUN OFA COMPARE_WEIGHTS WORKDIR
set -euo pipefail
mpirun=$1 ofa=$2 compare=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
# Containers and root (docs/distributed.md): no ptrace for single-copy, no InfiniBand probing.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
cat >"$work/tiny.json" <<'JSON'
{"name": "tiny", "phases": [
  {"name": "full", "epochs": 1, "lr": 0.05, "rule": "fixed", "config": "max"},
  {"name": "kernel", "epochs": 1, "lr": 0.02, "kernels": [3, 5, 7], "depths": [4], "expands": [6], "kd_ratio": 1.0},
  {"name": "expand", "epochs": 1, "lr": 0.01, "subnets_per_step": 2, "reorganize_stage": 0, "kd_ratio": 1.0}]}
JSON
args=(train --space cifar --data synthetic:160 --holdout 0 --schedule "$work/tiny.json" --batch 16 --seed 5
      --threads 1 --eval-images 16 --recalibration-images 32 --no-epoch-eval --quiet)

"$ofa" "${args[@]}" --accumulate 2 --out "$work/one2"
"$mpirun" -np 2 "$ofa" "${args[@]}" --out "$work/np2"
[ "$("$compare" "$work/one2/final.ofa" "$work/np2/final.ofa")" = identical ] || { echo "-np 2 differs from --accumulate 2" >&2; exit 1; }
cmp -s "$work/one2/final.ofa" "$work/np2/final.ofa" || { echo "-np 2: BN statistics differ" >&2; exit 1; }
echo "-np 2: the bits of one process with --accumulate 2"
# The last evaluation, shared by the two processes (half the calibration batches and test images
# each, sums combined), gives one process's top-1 on every subnet of the grid.
top1s() { grep '"event":"evaluation"' "$1/log.jsonl" | tail -1 | grep -o '"top1":[0-9.e-]*'; }
[ "$(top1s "$work/one2")" = "$(top1s "$work/np2")" ] || { echo "the shared evaluation differs" >&2; exit 1; }
echo "shared evaluation: one process's top-1 on all $(top1s "$work/np2" | wc -l) subnets"

# One step: rounding differences, like any, grow over later steps (7e-5 after three, 1% after ten).
printf '{"phases": [{"name": "full", "epochs": 1, "lr": 0.05, "rule": "fixed", "config": "max"}]}' >"$work/one.json"
one_step=(train --space cifar --data synthetic:16 --holdout 0 --schedule "$work/one.json" --batch 16 --seed 5
          --threads 1 --eval-images 16 --recalibration-images 16 --no-epoch-eval --quiet)
"$ofa" "${one_step[@]}" --accumulate 4 --out "$work/one4"
"$mpirun" -np 4 "$ofa" "${one_step[@]}" --out "$work/np4"
"$mpirun" -np 2 "$ofa" "${one_step[@]}" --accumulate 2 --out "$work/np2x2"
four=$("$compare" "$work/one4/final.ofa" "$work/np4/final.ofa" 1e-6)  # exits 1 above the tolerance
mixed=$("$compare" "$work/one4/final.ofa" "$work/np2x2/final.ofa" 1e-6)
echo "-np 4 against --accumulate 4: $four; -np 2 --accumulate 2 against it: $mixed"

# Kill process 1 once the first mid-epoch checkpoint exists.
"$mpirun" -np 2 "$ofa" "${args[@]}" --checkpoint-steps 3 --out "$work/killed" >"$work/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 1 1200); do
  [ -f "$work/killed/checkpoint.ofa" ] && break
  sleep 0.05
done
victim=$(pgrep -f "ofa train .*--out $work/killed" | tail -1)
kill -9 "$victim"
start=$(date +%s)
if wait "$launcher"; then echo "the run exited 0 after a process was killed" >&2; exit 1; fi
echo "a killed process ended the run in $(( $(date +%s) - start )) s"
"$compare" "$work/killed/checkpoint.ofa" "$work/killed/checkpoint.ofa" >/dev/null  # it loads
cp -r "$work/killed" "$work/killed-one"
"$mpirun" -np 2 "$ofa" "${args[@]}" --checkpoint-steps 3 --out "$work/killed" --resume
[ "$("$compare" "$work/np2/final.ofa" "$work/killed/final.ofa")" = identical ] || { echo "the resumed run differs" >&2; exit 1; }
echo "resumed after the kill: the uninterrupted run's bits"

# The same checkpoint resumed by one process (with a warning): --accumulate 2 makes up the difference.
"$ofa" "${args[@]}" --checkpoint-steps 3 --accumulate 2 --out "$work/killed-one" --resume 2>&1 | tee "$work/one.log" | tail -1
grep -q "written by 2 processes, this run has 1" "$work/one.log" || { echo "no warning for another -np" >&2; exit 1; }
[ "$("$compare" "$work/np2/final.ofa" "$work/killed-one/final.ofa")" = identical ] || { echo "resumed by one process: differs" >&2; exit 1; }
echo "resumed by one process with --accumulate 2: the uninterrupted run's bits"

# The accuracy data set shared by two processes holds the records one process measures.
"$ofa" train --space cifar --data synthetic:320 --holdout 64 --schedule "$work/one.json" --batch 16 --threads 1 \
  --eval-images 16 --recalibration-images 16 --no-epoch-eval --quiet --out "$work/held"
acc=(acc-dataset --space cifar --checkpoint "$work/held/final.ofa" --subnets 7 --calibration-images 32 --batch 32 --threads 1)
"$ofa" "${acc[@]}" --out "$work/acc1.jsonl" >/dev/null
"$mpirun" -np 2 "$ofa" "${acc[@]}" --out "$work/acc2.jsonl" >/dev/null
without_seconds() { sed 's/"seconds":[^,}]*[,]\{0,1\}//' "$1" | sort; }
[ "$(without_seconds "$work/acc1.jsonl")" = "$(without_seconds "$work/acc2.jsonl")" ] ||
  { echo "the shared accuracy data set differs" >&2; exit 1; }
echo "acc-dataset on 2 processes: the records of one"

if "$mpirun" -np 3 "$ofa" "${args[@]}" --out "$work/odd" >"$work/odd.log" 2>&1; then exit 1; fi
grep -q "give a --batch divisible by 3" "$work/odd.log" || { cat "$work/odd.log" >&2; exit 1; }
echo "data-parallel training checked"
