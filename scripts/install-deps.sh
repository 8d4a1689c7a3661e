#!/usr/bin/env bash
# Installs the Debian packages hie builds and tests with, if any are missing.
# Safe to run again: does nothing when everything is present. Needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libleveldb-dev libsnappy-dev libssl-dev libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev libsodium-dev libqrencode-dev
  clang libclang-rt-14-dev clang-format
  faketime iproute2
  # The MPI reads the proper names of this English word list at build time
  # (mpi/CMakeLists.txt): two first names a letter apart that are both names are twins.
  wamerican
  # The web app's browser tests (tests/js/web) run Debian's chromium headless, driven by
  # puppeteer-core from tests/js/package-lock.json, which downloads no browser of its own.
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the JavaScript tests (tests/js, installed by install-js-deps.sh).
# Checked by command, not by Debian package name: a machine whose nodejs comes from
# NodeSource has npm inside it, and Debian's npm package would replace that Node.js
# with Debian's older one.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo_cmd=(sudo); else
    echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
