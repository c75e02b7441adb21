#!/usr/bin/env bash
# The device check in one call, on a machine with an accelerator (and nothing installed):
#   bash scripts/device-check/run.sh            # carried: .device-check/ (npx tsx scripts/device-check/pack.ts)
#   bash scripts/device-check/run.sh --dry      # CPU only, 2 repetitions: proves the script here
# Unpacks node and onnxruntime-node, looks for ONNX Runtime's CUDA provider on the machine (it cannot travel), runs
# bench/device-check.ts (bundled) on the demo bundle, prints the ratios and writes $OUT/device-check.json (or ./).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
payload="$repo/.device-check/payload.tar.xz"
[ -f "$payload" ] || { echo "run.sh: $payload is missing: run npx tsx scripts/device-check/pack.ts first" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/orthanc-t3-device-check-XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xJf "$payload" -C "$work"
binding="$work/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
if [ "${1:-}" != "--dry" ]; then
  # CUDA only if the machine already has ONNX Runtime's CUDA provider (e.g. from an onnxruntime-gpu install); it
  # must be the same ONNX Runtime release as the binding, which the provider start then proves or refutes.
  found="$(find /usr/local/lib /usr/lib /opt "$HOME" -maxdepth 6 -name libonnxruntime_providers_cuda.so 2>/dev/null | head -n 1 || true)"
  if [ -n "$found" ]; then
    echo "run.sh: using the CUDA provider found at $found"
    cp "$found" "$(dirname "$found")/libonnxruntime_providers_shared.so" "$binding/" 2>/dev/null || cp "$found" "$binding/"
  else
    echo "run.sh: no ONNX Runtime CUDA provider on this machine: cuda is reported, not measured"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
out="${OUT:-$PWD}/device-check.json"
cd "$work"
"$work/node" "$work/device-check.js" "$@" --out "$out" "$repo/bundles/demo-trained" "$repo/bundles/demo"
