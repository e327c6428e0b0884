#!/usr/bin/env bash
# Data-parallel speed on this machine: one epoch of the cifar space's full network (batch 64,
# 5,120 synthetic images) by 1 process with all cores as threads, and by one process a core with
# one thread each (mpirun), then one MPI_Allreduce of each space's real gradient buffer (ofa bench reduce).
# Usage: bench/mpi_speed.sh [build/release/bin/ofa]       (docs/distributed.md, bench/RESULTS.md)
set -euo pipefail
ofa=${1:-build/release/bin/ofa}
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp
printf '{"phases": [{"name": "full", "epochs": 1, "lr": 0.05, "rule": "fixed", "config": "max"}]}' >"$work/one.json"
args=(train --space cifar --data synthetic:5120 --holdout 0 --schedule "$work/one.json" --batch 64 --seed 1
      --eval-images 64 --recalibration-images 64 --no-epoch-eval --quiet)
rate() { grep '"event":"epoch"' "$1/log.jsonl" | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/'; }
"$ofa" "${args[@]}" --threads "$cores" --out "$work/one"
mpirun -np "$cores" --bind-to none "$ofa" "${args[@]}" --threads 1 --out "$work/many"
printf '1 process x %d threads: %.1f images/s\n%d processes x 1 thread: %.1f images/s\n' \
  "$cores" "$(rate "$work/one")" "$cores" "$(rate "$work/many")"
for space in cifar mbv3; do
  mpirun -np "$cores" --bind-to none "$ofa" bench reduce --space "$space" --repetitions 50
done
