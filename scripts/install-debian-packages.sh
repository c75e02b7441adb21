#!/usr/bin/env bash
# Installs the Debian packages orthanc-t3 needs (idempotent: only what is missing).
#   scripts/install-debian-packages.sh         what the sidecar and its demo run with
#   scripts/install-debian-packages.sh --test  also what the test suite uses (CI runs this)
set -euo pipefail

# Orthanc and its plugins (the PACS and the Python plugin host), dcmtk (dcmsend and storescu: C-STORE), protoc for the plugin's gRPC stubs,
# jemalloc (bin/orthanc-t3 runs the sidecar on it: it returns the memory of a request burst; SECURITY.md "Memory"),
# openssl (orthanc-t3 make-config makes the plugin's and the sidecar's TLS certificates with it).
RUNTIME_PACKAGES=(
  orthanc orthanc-gdcm orthanc-dicomweb orthanc-python
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc
  dcmtk libjemalloc2 openssl
)
# Reference decoders (dcmtk, GDCM), the three SR validators, openssl for TLS certificates, torch and onnx for the
# model scripts (scripts/export-clip, scripts/train-demo, the bench's ViT-B/16 pair; run with /usr/bin/python3),
# PostgreSQL for the several-sidecars test, Chromium for the worklist's browser test (driven by playwright-core),
# Fashion-MNIST's real photographs (MIT, ~30 MB) for scripts/real-data and its test (docs/EVALUATION.md "Real images").
TEST_PACKAGES=(
  dicom3tools libpixelmed-java default-jre-headless libgdcm-tools
  openssl
  python3-torch python3-onnx
  postgresql orthanc-postgresql
  chromium
  dataset-fashion-mnist
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
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run this script as root, e.g. with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# One test image is GPL-3+ (a 10-frame PALETTE COLOR ultrasound, RLE, from octave-dicom), so this Apache-2.0
# repository does not carry it: the tests take it from the Debian package, unpacked into an ignored folder
# (samples/dicom/SOURCES.md). Only the file is kept; the package is not installed.
fetch_octave_sample() {
  local dest="test/fixtures/debian/octave_US-PAL-8-10x-echo.dcm"
  local sha=4a1623b3a82a1ae4f5a78eaf20198bde56ebde07a5c7d94e0748d38ed50be44c
  local root
  root="$(cd "$(dirname "$0")/.." && pwd)"
  if [ -f "$root/$dest" ] && echo "$sha  $root/$dest" | sha256sum --quiet -c -; then return 0; fi
  local tmp
  tmp="$(mktemp -d)"
  # apt-get download needs the package lists; a fresh container has none until apt-get update (root only).
  if ! (cd "$tmp" && apt-get download -q octave-dicom=0.5.1-1 >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] && apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q octave-dicom=0.5.1-1) || { rm -rf "$tmp"; echo "could not download octave-dicom 0.5.1-1" >&2; return 1; }
  fi
  dpkg-deb -x "$tmp"/octave-dicom_*.deb "$tmp/x"
  mkdir -p "$(dirname "$root/$dest")"
  cp "$tmp/x/usr/share/octave/packages/dicom-0.5.1/imdata/US-PAL-8-10x-echo.dcm" "$root/$dest"
  cp "$tmp/x/usr/share/doc/octave-dicom/copyright" "$(dirname "$root/$dest")/octave-dicom.copyright"
  rm -rf "$tmp"
  echo "$sha  $root/$dest" | sha256sum --quiet -c - || { echo "$dest: unexpected SHA-256" >&2; return 1; }
}
if [ "${1:-}" = --test ]; then fetch_octave_sample; fi
