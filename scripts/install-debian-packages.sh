#!/usr/bin/env bash
# Installs the Debian packages orthanc-t3 needs (idempotent: only what is missing).
#   scripts/install-debian-packages.sh         what the sidecar and its demo run with
#   scripts/install-debian-packages.sh --test  also what the test suite uses (CI runs this)
set -euo pipefail

# Orthanc and its plugins (the PACS and the Python plugin host), dcmtk (storescu), protoc for the plugin's gRPC stubs,
# jemalloc (bin/orthanc-t3 runs the sidecar on it: it returns the memory of a request burst; SECURITY.md "Memory").
RUNTIME_PACKAGES=(
  orthanc orthanc-gdcm orthanc-dicomweb orthanc-python
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc
  dcmtk libjemalloc2
)
# Reference decoders (dcmtk, GDCM), the three SR validators, openssl for TLS certificates, torch and onnx for the
# model scripts (scripts/export-clip, scripts/train-demo, the bench's ViT-B/16 pair; run with /usr/bin/python3),
# PostgreSQL for the several-sidecars test, Chromium for the worklist's browser test (driven by playwright-core).
TEST_PACKAGES=(
  dicom3tools libpixelmed-java default-jre-headless libgdcm-tools
  openssl
  python3-torch python3-onnx
  postgresql orthanc-postgresql
  chromium
)

wanted=("${RUNTIME_PACKAGES[@]}")
case "${1:-}" in
  --test) wanted+=("${TEST_PACKAGES[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 1 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run this script as root, e.g. with sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
