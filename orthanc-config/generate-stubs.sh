#!/bin/sh
# Generates the Python gRPC stubs the Orthanc plugin imports, from the repository's proto/ folder, with Debian's
# protoc (3.21; python3-grpc-tools bundles protoc 3.5, which rejects proto3 `optional`) and grpc_python_plugin.
#   apt-get install -y protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
# Output: orthanc-config/plugin/t3/v1/{common,triage,admin}_pb2{,_grpc}.py (the plugin's folder is first on
# sys.path inside Orthanc, so they import as `from t3.v1 import admin_pb2`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${PROTO_DIR:-$here/../proto}
out=${STUBS_OUT:-$here/plugin}
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null 2>&1 || { echo "generate-stubs: $tool not found (apt-get install -y protobuf-compiler protobuf-compiler-grpc)" >&2; exit 1; }
done
rm -rf "$out/t3"
mkdir -p "$out"
protoc -I "$proto_dir" \
  --python_out="$out" \
  --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  "$proto_dir"/t3/v1/*.proto
touch "$out/t3/__init__.py" "$out/t3/v1/__init__.py"
echo "generate-stubs: wrote $(ls "$out"/t3/v1/*.py | wc -l) files to $out/t3/v1"
if [ -z "${STUBS_OUT:-}" ]; then
  # Written aside and renamed: a test or the demo may read the folder while another run writes it.
  tmp=$(mktemp "$here/.python.json.XXXXXX")
  printf '%s\n' \
    '// Written by generate-stubs.sh for this folder (Orthanc 1.10.1 resolves PythonScript against its working' \
    '// directory, so the path is absolute). Replaces Debian'"'"'s /etc/orthanc/python.json, which has the same two keys.' \
    "{ \"PythonScript\": \"$here/plugin/t3_plugin.py\", \"PythonVerbose\": false }" > "$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$here/python.json"
  echo "generate-stubs: wrote $here/python.json"
fi
