# The orthanc-t3 sidecar. Build from the repository root:
#   docker build -f deploy/sidecar.Dockerfile -t orthanc-t3-sidecar .
# Runs the TypeScript sources through tsx (a runtime dependency), exactly as `npx orthanc-t3` does.
# CPU image. The GPU image is sidecar-gpu.Dockerfile (CUDA 13 base, `orthanc-t3 gpu-provider install`, docs/GPU.md).
FROM node:20-bookworm-slim
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
# The embedded default bundle (`dir: "demo"`, demoBundleDir() in src/engine/bundle.ts): its manifest and its two
# models, not its evaluation images.
COPY bundles/demo-trained/bundle.json bundles/demo-trained/generalist.onnx bundles/demo-trained/expert.onnx bundles/demo-trained/
COPY tsconfig.json ./
RUN mkdir -p /var/lib/orthanc-t3 && chown node:node /var/lib/orthanc-t3
USER node
# gRPC (TriageService, AdminService) and /metrics, /livez, /readyz.
EXPOSE 50051 9464
ENV T3_GRPC_LISTEN=0.0.0.0:50051 \
    T3_METRICS_LISTEN=0.0.0.0:9464 \
    T3_CHECKPOINT_PATH=/var/lib/orthanc-t3/checkpoint.json
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/app/bin/orthanc-t3"]
CMD ["serve", "--config", "/etc/orthanc-t3"]
