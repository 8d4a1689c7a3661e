#!/usr/bin/env bash
# Installs the JavaScript packages the tests use (tests/js: fhir-kit-client, ajv, the FHIR
# R4 JSON schema; puppeteer-core and axe-core for the web app's browser tests, which drive
# Debian's chromium and download no browser) exactly as tests/js/package-lock.json pins
# them, with `npm ci`. Does nothing when they are installed from the same lockfile. Needs
# node and npm (scripts/install-deps.sh) and the npm registry; no terminal, no questions
# asked.
set -euo pipefail
cd "$(dirname "$0")/../tests/js"

stamp=node_modules/.hie-package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is missing: run scripts/install-deps.sh" >&2
    exit 1
  fi
done
echo "installing tests/js packages (npm ci)" >&2
# No package here needs an install script; running none keeps the install to the files.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null
echo "$want" >"$stamp"
