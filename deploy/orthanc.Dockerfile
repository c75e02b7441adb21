# Orthanc 1.10.1 from Debian 12 with the PostgreSQL index, the Python plugin host and the orthanc-t3 plugin.
# Build from the repository root:
#   docker build -f deploy/orthanc.Dockerfile -t orthanc-t3-orthanc .
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      orthanc orthanc-postgresql orthanc-python orthanc-gdcm orthanc-dicomweb \
      python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The plugin and its gRPC stubs (generated here from proto/), outside /etc/orthanc-t3 so a ConfigMap can own that.
COPY proto/ /usr/share/orthanc-t3/proto/
COPY orthanc-config/plugin/ /usr/share/orthanc-t3/plugin/
COPY orthanc-config/generate-stubs.sh /usr/share/orthanc-t3/generate-stubs.sh
RUN PROTO_DIR=/usr/share/orthanc-t3/proto STUBS_OUT=/usr/share/orthanc-t3/plugin sh /usr/share/orthanc-t3/generate-stubs.sh
# Configuration folder (Kubernetes mounts the ConfigMap orthanc-t3-config here instead).
COPY deploy/orthanc/orthanc.json /etc/orthanc-t3/orthanc.json
COPY orthanc-config/t3.json /etc/orthanc-t3/t3.json
RUN mkdir -p /var/lib/orthanc/db
ENV TCP_NODELAY=1
EXPOSE 8042 4242
# Any HTTP answer (401 included: authentication is on) means Orthanc is up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD ["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8042/system"]
CMD ["Orthanc", "/etc/orthanc-t3/"]
