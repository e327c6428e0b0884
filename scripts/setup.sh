#!/usr/bin/env bash
# Installs what ofa needs from Debian 12 packages, and nothing when all is there.
# With --tests, also what only the tests use: the ONNX checker (python3-onnx), ONNX Runtime
# (npm's onnxruntime-node, into build/tools; its CPU binaries ship in the package) and clang with
# libFuzzer for the fuzz targets.
# Run as root (or with sudo available); safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
[ "${1:-}" = "--tests" ] && tests=1

packages=(
  cmake g++ ninja-build ccache                       # toolchain
  xtensor-dev libxsimd-dev libtbb-dev                # the library's dependencies
  nlohmann-json3-dev                                 # JSON configs and checkpoints' metadata
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev   # image-folder data sets
  zlib1g-dev dataset-fashion-mnist                   # gzipped IDX files; the demo's real data set
  catch2 libbenchmark-dev libcli11-dev               # tests, benchmarks, the ofa command
  libopenmpi-dev openmpi-bin                         # data-parallel training (mpirun -np N ofa train)
)

if [ $tests -eq 1 ]; then
  packages+=(python3-onnx)                           # onnx.checker for the ONNX export test
  packages+=(clang libfuzzer-14-dev)                 # the fuzz preset (scripts/fuzz.sh)
  command -v npm >/dev/null 2>&1 || packages+=(npm)  # to fetch onnxruntime-node
fi

install_onnxruntime() {
  [ $tests -eq 1 ] || return 0
  [ -d build/tools/node_modules/onnxruntime-node ] && return 0
  mkdir -p build/tools
  echo "ofa setup: npm install --ignore-scripts onnxruntime-node (into build/tools)"
  (cd build/tools && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null 2>&1) ||
    echo "ofa setup: could not install onnxruntime-node (no npm registry?); the ONNX Runtime test will say it skipped" >&2
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_onnxruntime
  exit 0
fi

echo "ofa setup: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "ofa setup: these Debian packages are missing: ${missing[*]}" >&2
  echo "ofa setup: run this script as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -q "${missing[@]}"; then
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q "${missing[@]}" || {
    echo "ofa setup: apt-get could not install ${missing[*]}; is this Debian 12 with its package archive reachable?" >&2
    exit 1
  }
fi
install_onnxruntime
