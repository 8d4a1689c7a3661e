#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts a whole exchange
# on this machine (hie-mpi, hie-consent and three practices' hie-node on loopback with
# mutual TLS), loads the sample patients, and runs a cross-practice query for one of
# them. The exchange keeps running; `hiectl devnet down --dir run/devnet` stops it.
# Everything it makes lives in run/devnet/ (never committed: it holds private keys).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

scripts/install-deps.sh
echo "==> building (first build takes a few minutes)"
scripts/build.sh
bin="$root/${HIE_BUILD_DIR:-build}/bin"
dir="$root/run/devnet"

if [ -f "$dir/devnet.json" ]; then
  "$bin/hiectl" devnet down --dir "$dir" >/dev/null || true
fi
rm -rf "$dir"
echo "==> starting the exchange: MPI, consent service and three practices (run/devnet/)"
"$bin/hiectl" devnet up --dir "$dir" --nodes 3
echo
echo "==> loading the sample patients (each practice registers them its own way)"
"$bin/hiectl" devnet samples --dir "$dir"
echo
echo "==> Dr. Lee at org-a asks for everything about Jane Oyelaran (GP-1001), for treatment"
"$bin/hiectl" query --profile "$dir/profiles/org-a.profile" \
  --patient GP-1001 --purpose TREAT --user dr.lee --bundle "$dir/jane.json" 2>/dev/null
cat <<NEXT

The exchange is running. Next, try:
  hiectl query --profile run/devnet/profiles/org-a.profile --patient GP-1003 --purpose TREAT --user dr.lee
      (Luis Ferreira: his substance-use records stay at the hospital)
  hiectl query --profile run/devnet/profiles/org-a.profile --patient GP-1002 --purpose TREAT --user dr.lee
      (Marcus Brandt opted out: denied, with the reason)
  hiectl audit disclosures --profile run/devnet/profiles/operator-node-b.profile --org org-b --patient H-88812
      (who saw Jane's hospital record, from the hospital's own audit chain)
  hiectl mpi reviews --profile run/devnet/profiles/operator-mpi.profile
      (the operator's review queue of uncertain matches)
  hiectl devnet status --dir run/devnet      hiectl devnet down --dir run/devnet

The web app of org-a's node: $(grep -o '"fhir_base": "[^"]*"' "$dir/devnet.json" | head -1 | cut -d'"' -f4)/app/
(its certificate is the devnet's own CA, run/devnet/ca/ca.crt); sign in with:
$(grep -E '^org-a ' "$dir/web-accounts.txt")
NEXT
