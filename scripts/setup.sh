#!/usr/bin/env bash
# Installs what ofa needs from Debian 12 packages, and nothing when all is there.
# Run as root (or with sudo available); safe to run again and again.
set -euo pipefail

packages=(
  cmake g++ ninja-build ccache                       # toolchain
  xtensor-dev libxsimd-dev libtbb-dev                # the library's dependencies
  nlohmann-json3-dev                                 # JSON configs and checkpoints' metadata
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev   # image-folder data sets
  catch2 libbenchmark-dev libcli11-dev               # tests, benchmarks, the ofa command
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
