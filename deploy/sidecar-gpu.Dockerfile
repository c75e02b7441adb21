# The orthanc-t3 sidecar with ONNX Runtime's CUDA execution provider. Build from the repository root:
#   docker build -f deploy/sidecar-gpu.Dockerfile -t orthanc-t3-sidecar-gpu .
# Run with a GPU: docker run --gpus all … (compose.gpu.yaml, k8s nvidia.com/gpu). The base image brings CUDA 13's
# runtime libraries (cudart, cuBLAS, cuRAND) and cuDNN 9, which the provider loads; the host brings the driver
# (libcuda.so.1) through the NVIDIA Container Toolkit. The provider itself comes from the npm registry through the
# same opt-in step as anywhere else: `orthanc-t3 gpu-provider install` (docs/GPU.md). Without a usable GPU the
# sidecar says why in one line and runs on the CPU.
FROM node:20-bookworm-slim AS node
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
# Node 20 and npm from the official image (only glibc is needed; Ubuntu 24.04 has it).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# jemalloc: the `orthanc-t3` launcher (bin/orthanc-t3) runs node on it, so a burst's freed memory goes back.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin/ bin/
COPY src/ src/
COPY proto/ proto/
COPY bundles/demo-trained/bundle.json bundles/demo-trained/generalist.onnx bundles/demo-trained/expert.onnx bundles/demo-trained/
COPY tsconfig.json ./
# The CUDA provider matching the pinned onnxruntime-node, next to its binding (npm pack, sha256-checked), then what
# the provider still lacks at build time (no GPU here: the driver line is expected; every other line should not be).
RUN bin/orthanc-t3 gpu-provider install && npm cache clean --force && bin/orthanc-t3 doctor --no-start
RUN mkdir -p /var/lib/orthanc-t3 && chown 1000:1000 /var/lib/orthanc-t3
USER 1000
EXPOSE 50051 9464
ENV T3_GRPC_LISTEN=0.0.0.0:50051 \
    T3_METRICS_LISTEN=0.0.0.0:9464 \
    T3_CHECKPOINT_PATH=/var/lib/orthanc-t3/checkpoint.json \
    T3_EXECUTION_PROVIDERS=cuda,cpu
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/app/bin/orthanc-t3"]
CMD ["serve", "--config", "/etc/orthanc-t3"]
