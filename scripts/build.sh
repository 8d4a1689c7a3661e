#!/usr/bin/env bash
# Configures and builds hie into build/ (binaries in build/bin/). Extra arguments go to
# the CMake configure step, e.g. scripts/build.sh -DHIE_SANITIZE=address.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${HIE_BUILD_DIR:-build}"
generator=()
if command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
