#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the shared data beside the checkout.
#   seed_corpora.sh DATA_DIR CORPUS_ROOT SOURCE_DIR
# DATA_DIR is ../shared/data (fhir/, febrl/, hl7v2/); CORPUS_ROOT/<target>/ receives the
# seeds; SOURCE_DIR is the checkout (its example configs seed config_fuzz). Without
# the data, or without jq, it seeds what it can and says what it skipped. Seeds are
# capped per target so that a bounded ctest run spends its time fuzzing, not loading.
# Runs once per corpus root (a stamp file marks it done); delete the root to reseed.
set -eu
data=$1
root=$2
src=$3
max_seeds=400

if [[ -f $root/.seeded ]]; then
  echo "seed_corpora: $root already seeded"
  exit 0
fi
mkdir -p "$root"
seed() {  # seed TARGET NAME < content
  mkdir -p "$root/$1"
  cat >"$root/$1/$2"
}
count() { find "$root/$1" -type f 2>/dev/null | wc -l; }

for f in "$src"/deploy/*.textproto "$src"/deploy/*/*.textproto; do
  [[ -f $f ]] && seed config_fuzz "$(basename "$f")" <"$f"
done

# Certificates as DER, made here: one with the exchange's URI SAN, one without.
if command -v openssl >/dev/null; then
  tmp=$(mktemp -d)
  for san in "URI:hie://org/org-a" "DNS:localhost"; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fuzz \
      -addext "subjectAltName=$san" -days 1 -keyout "$tmp/key" -outform DER \
      -out "$tmp/cert" 2>/dev/null && seed cert_identity_fuzz "${san%%:*}.der" <"$tmp/cert"
  done
  rm -rf "$tmp"
fi

if [[ ! -d $data ]]; then
  echo "seed_corpora: no shared data at $data; fuzzing from the committed seeds only"
  touch "$root/.seeded"
  exit 0
fi

# FHIR: the official examples whole (up to 16 KiB for ingest, so that a bounded run
# fuzzes rather than loads); febrl rows; HL7 v2 messages.
if [[ -d $data/fhir/examples ]]; then
  for f in "$data"/fhir/examples/*.json; do
    name=$(basename "$f")
    [[ $(stat -c %s "$f") -le 16384 ]] && seed fhir_ingest_fuzz "$name" <"$f"
    case $name in
      Consent-*) seed consent_fuzz "$name" <"$f" ;;
      Patient-* | Person-*) seed patient_demographics_fuzz "$name" <"$f" ;;
    esac
  done
fi

if [[ -d $data/hl7v2 ]]; then
  for f in "$data"/hl7v2/*.hl7; do
    seed hl7_parse_fuzz "$(basename "$f")" <"$f"
    # The same message framed for MLLP: <VT> message <FS><CR>.
    { printf '\013'; cat "$f"; printf '\034\r'; } | seed mllp_frame_fuzz "$(basename "$f")"
  done
fi

if [[ -d $data/febrl ]]; then
  # Pairs of rows about one person (rec-N-org with each rec-N-dup-k), and neighbours.
  mkdir -p "$root/match_fuzz"
  for f in "$data"/febrl/*.csv; do
    awk -v dir="$root/match_fuzz" -v base="$(basename "$f" .csv)" -v max=$((max_seeds / 5)) '
      NR == 1 { next }
      { id = $1; sub(/-(org|dup-[0-9]+)$/, "", id) }
      n < max && (id in first) { n++; out(first[id]) }
      n < max && NR % 50 == 0 && prev != "" { n++; out(prev) }
      { if (!(id in first)) first[id] = $0; prev = $0 }
      function out(other, f) { f = dir "/" base "-" n; print other > f; print $0 > f; close(f) }
    ' "$f"
  done
fi

if ! command -v jq >/dev/null; then
  echo "seed_corpora: jq not found; Synthea bundles and FHIR values not split into seeds"
  touch "$root/.seeded"
  exit 0
fi

# Every resource of the examples and Synthea bundles, one line each (minified).
resources=$(mktemp)
trap 'rm -f "$resources"' EXIT
for f in "$data"/fhir/examples/*.json "$data"/fhir/synthea/*.json; do
  [[ -f $f ]] || continue
  jq -c 'if .resourceType == "Bundle" then (.entry // [])[].resource | select(. != null) else . end' \
    "$f" 2>/dev/null || true
done | awk 'length($0) <= 8192' >"$resources"

# Single resources: a spread of types from Synthea and the examples.
awk -v max=$((max_seeds / 2)) 'NR % 7 == 1 && n < max { n++; print > sprintf("%s/r%05d.json", dir, NR) }' \
  dir="$root/fhir_ingest_fuzz" "$resources"
jq -c 'select(.resourceType == "Patient")' "$resources" | head -n $max_seeds |
  awk '{ print > sprintf("%s/synthea-%04d.json", dir, NR) }' dir="$root/patient_demographics_fuzz"
mkdir -p "$root/merge_fuzz" "$root/importer_fuzz" "$root/json_fuzz" "$root/fhir_datetime_fuzz"
# Groups of four lines: NDJSON for the importer (after a chunk-size byte), holders'
# records for the merge, a name and a resource for the JSON writer.
awk -v max=$((max_seeds / 2)) '
  NR % 13 == 0 && n < max { g[++k] = $0; if (k == 4) { n++; k = 0
    body = g[1] "\n" g[2] "\n" g[3] "\n" g[4] "\n"
    printf "%s", body > sprintf("%s/m%04d", merge, n); close(sprintf("%s/m%04d", merge, n))
    printf "%c%s", 33 + n % 90, body > sprintf("%s/i%04d", importer, n); close(sprintf("%s/i%04d", importer, n))
  } }' merge="$root/merge_fuzz" importer="$root/importer_fuzz" "$resources"
jq -r 'select(.resourceType == "Patient") | [(.name // [])[0].family // "", tojson] | join("\n")' \
  "$resources" 2>/dev/null | awk -v max=$max_seeds '
  NR % 2 == 1 { name = $0; next }
  n < max { n++; f = sprintf("%s/p%04d", dir, n); print name > f; print $0 > f; close(f) }' \
  dir="$root/json_fuzz"
# Every distinct FHIR date, dateTime or instant value.
jq -r '.. | strings | select(test("^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9:]+))?)?)?$"))' \
  "$resources" | sort -u | head -n $max_seeds |
  awk '{ f = sprintf("%s/d%04d", dir, NR); printf "%s", $0 > f; close(f) }' dir="$root/fhir_datetime_fuzz"

touch "$root/.seeded"
for t in "$root"/*/; do
  t=$(basename "$t")
  echo "seed_corpora: $t: $(count "$t") seeds"
done
