#!/bin/sh
# Makes the certificates and the token the deploy/ topologies use between the Orthanc plugin and the sidecars, with
# openssl: a private CA, a server certificate for the sidecar (names: sidecar, orthanc-t3-sidecar), a client
# certificate for the plugin (mutual TLS), and a random bearer token with roles admin+triage for the plugin.
#   deploy/make-pki.sh [OUT]        (default deploy/pki, ignored by git)
# Output: OUT/sidecar/{tls.crt,tls.key,ca.crt,tokens.json} for the sidecar, OUT/plugin/{ca.crt,tls.crt,tls.key,token}
# for Orthanc. Kubernetes: kubectl create secret generic orthanc-t3-sidecar-grpc --from-file=OUT/sidecar/ and
# orthanc-t3-plugin-grpc --from-file=OUT/plugin/ (see k8s/secret.example.yaml). Keep OUT out of version control.
set -eu
out=${1:-$(cd "$(dirname "$0")" && pwd)/pki}
days=${T3_PKI_DAYS:-825}
mkdir -p "$out/ca" "$out/sidecar" "$out/plugin"
umask 077
cd "$out/ca"
openssl req -x509 -newkey rsa:3072 -nodes -days "$days" -subj "/CN=orthanc-t3 gRPC CA" -keyout ca.key -out ca.crt 2>/dev/null
leaf() { # name subject extensions
  printf '%s\n' "$3" > "$1.ext"
  openssl req -newkey rsa:3072 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -out "$1.crt" -extfile "$1.ext" 2>/dev/null
}
leaf sidecar "orthanc-t3 sidecar" "subjectAltName=DNS:sidecar,DNS:orthanc-t3-sidecar,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf plugin "orthanc-t3 plugin" "extendedKeyUsage=clientAuth"
token=$(openssl rand -hex 32)
cp ca.crt "$out/sidecar/ca.crt"; cp sidecar.crt "$out/sidecar/tls.crt"; cp sidecar.key "$out/sidecar/tls.key"
printf '{"tokens":[{"token":"%s","roles":["admin","triage"]}]}\n' "$token" > "$out/sidecar/tokens.json"
cp ca.crt "$out/plugin/ca.crt"; cp plugin.crt "$out/plugin/tls.crt"; cp plugin.key "$out/plugin/tls.key"
printf '%s\n' "$token" > "$out/plugin/token"
# The CA key signs nothing else: keep it offline or delete it.
echo "make-pki: wrote $out/sidecar and $out/plugin (CA key in $out/ca/ca.key)"
