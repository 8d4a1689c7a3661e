#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, creates an exchange CA
# and certificates, starts hie-mpi, hie-consent and a practice's hie-node on loopback
# with mutual TLS, health-checks each as the exchange operator, and stops them.
# Everything it makes lives in run/quickstart/ (never committed: it holds private keys).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

scripts/install-deps.sh
echo "==> building (first build takes a few minutes)"
scripts/build.sh
bin="$root/${HIE_BUILD_DIR:-build}/bin"
dir="$root/run/quickstart"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

rm -rf "$dir"
mkdir -p "$dir/certs"
echo "==> creating the exchange CA and certificates in run/quickstart/"
"$bin/hiectl" ca init --dir "$dir/ca"
issue() { "$bin/hiectl" ca issue --dir "$dir/ca" --out "$dir/certs/$2" --org "$1" --name "$2" "${@:3}"; }
issue exchange mpi --role mpi
issue exchange consent --role consent
issue org-a node-a --role node
issue exchange operator --role operator --client-only

tls() {
  cat <<TLS
  tls {
    ca_file: "ca/ca.crt"
    cert_file: "certs/$1.crt"
    key_file: "certs/$1.key"
    crl_dir: "ca/crl"
  }
TLS
}
cat > "$dir/mpi.textproto" <<CFG
# hie-mpi, started by scripts/quickstart.sh
server {
  listen_address: "127.0.0.1:0"
  port_file: "mpi.port"
$(tls mpi)
}
data_dir: "data/mpi"
CFG
cat > "$dir/consent.textproto" <<CFG
# hie-consent, started by scripts/quickstart.sh
server {
  listen_address: "127.0.0.1:0"
  port_file: "consent.port"
$(tls consent)
}
data_dir: "data/consent"
mpi { address: "127.0.0.1:1" expected_org: "exchange" }
CFG

echo "==> starting hie-mpi and hie-consent"
"$bin/hie-mpi" --config "$dir/mpi.textproto" 2>"$dir/mpi.log" &
pids+=($!)
wait_port() {
  for _ in $(seq 1 100); do
    if [ -s "$dir/$1.port" ]; then cat "$dir/$1.port"; return 0; fi
    sleep 0.1
  done
  echo "error: $1 did not start; its log:" >&2; cat "$dir/$1.log" >&2; return 1
}
mpi_port=$(wait_port mpi)
sed -i "s/127.0.0.1:1\"/127.0.0.1:$mpi_port\"/" "$dir/consent.textproto"
"$bin/hie-consent" --config "$dir/consent.textproto" 2>"$dir/consent.log" &
pids+=($!)
consent_port=$(wait_port consent)

cat > "$dir/node-a.textproto" <<CFG
# hie-node of org-a, started by scripts/quickstart.sh
server {
  listen_address: "127.0.0.1:0"
  port_file: "node-a.port"
$(tls node-a)
}
data_dir: "data/node-a"
mpi { address: "127.0.0.1:$mpi_port" expected_org: "exchange" }
consent { address: "127.0.0.1:$consent_port" expected_org: "exchange" }
CFG
echo "==> starting hie-node for org-a"
"$bin/hie-node" --config "$dir/node-a.textproto" 2>"$dir/node-a.log" &
pids+=($!)
node_port=$(wait_port node-a)

cat > "$dir/operator.profile" <<CFG
# hiectl connection profile of the exchange operator (hie.v1.ClientProfile)
ca_file: "ca/ca.crt"
cert_file: "certs/operator.crt"
key_file: "certs/operator.key"
crl_dir: "ca/crl"
CFG

echo "==> health over mutual TLS, as the exchange operator"
status=0
for target in "mpi:$mpi_port:exchange" "consent:$consent_port:exchange" "node-a:$node_port:org-a"; do
  IFS=: read -r name port org <<<"$target"
  printf '%-8s ' "$name"
  "$bin/hiectl" health --profile "$dir/operator.profile" --target "127.0.0.1:$port" \
    --expect-org "$org" || status=1
done

echo "==> stopping the daemons"
cleanup
pids=()
if [ $status -eq 0 ]; then
  echo "all three daemons were healthy over mutual TLS. Logs: run/quickstart/*.log"
else
  echo "a daemon was not healthy; see run/quickstart/*.log" >&2
fi
exit $status
