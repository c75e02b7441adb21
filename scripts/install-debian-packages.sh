#!/usr/bin/env bash
# Installs the Debian packages orthanc-t3 runs and tests with (idempotent: only what is missing).
# Orthanc and its plugins (the PACS, the plugin host), dcmtk/GDCM (reference decoders, storescu), the three SR
# validators, protoc for the Orthanc plugin's gRPC stubs, openssl for TLS certificates.
set -euo pipefail
DEB_PACKAGES=(
  orthanc orthanc-gdcm orthanc-dicomweb orthanc-python
  dcmtk dicom3tools libpixelmed-java default-jre-headless libgdcm-tools
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc
  openssl
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
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
