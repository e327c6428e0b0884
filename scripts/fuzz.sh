#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, address + undefined sanitizers) and runs
# each for SECONDS on a working copy of its seed corpus (tests/fuzz/corpus/<reader>), every run's
# executions, speed and coverage printed; any crash, hang, leak or oversized allocation fails with
# the input saved under build/fuzz/findings. CI runs it briefly; docs/reliability.md has long runs.
# Usage: scripts/fuzz.sh [SECONDS per target, default 30] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
scripts/setup.sh --tests  # clang and libFuzzer among them
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config schedule latency_table accuracy_dataset checkpoint image dataset_files pytorch)
mkdir -p build/fuzz/findings
failed=0
for t in "${targets[@]}"; do
  work=build/fuzz/corpus/$t
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log=build/fuzz/$t.log
  if ! build/fuzz/fuzz/fuzz_"$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
      -artifact_prefix=build/fuzz/findings/"$t"- -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz_$t: FAILED (see $log and build/fuzz/findings)"
    grep -m3 -E "ERROR|SUMMARY|==[0-9]+==|terminate|what\(\)" "$log" || true
    failed=$((failed + 1))
    continue
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  printf 'fuzz_%s: %s runs in %s s (%s/s), coverage %s edges, no finding\n' "$t" "$runs" "$seconds" \
    "$(( runs / seconds ))" "$cov"
done
echo "fuzz: $(( ${#targets[@]} - failed )) passed, $failed failed"
[ $failed -eq 0 ]
