#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs every test
# with ctest (unit tests, and integration tests that start the real daemons on loopback
# with certificates minted for the run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Without the JavaScript packages the other tests still run; the ones that need them
# (FhirClientJs*, WebBrowser*) then fail and say why.
scripts/install-js-deps.sh || echo "error: the tests/js packages are not installed; FhirClientJs* and WebBrowser* will fail" >&2
scripts/build.sh
cd "${HIE_BUILD_DIR:-build}"
ctest --output-on-failure --parallel "$(nproc)" --timeout 300 "$@"
