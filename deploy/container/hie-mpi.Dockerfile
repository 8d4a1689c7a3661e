# Container image for hie-mpi. Build from the repository root:
#   docker build -f deploy/container/hie-mpi.Dockerfile -t hie-mpi .
# The image holds hie-mpi and hiectl (for the health probe); the config, certificates and
# data directory are mounted (see deploy/kubernetes/). Runs as an unprivileged user.
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc \
      libprotobuf-dev protobuf-compiler libabsl-dev libleveldb-dev libsnappy-dev libssl-dev \
      libsimdjson-dev libgtest-dev libgmock-dev libboost-dev libsodium-dev libqrencode-dev wamerican \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHIE_BENCH=OFF \
    && cmake --build /build --target hie-mpi hiectl

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libleveldb1d libsnappy1v5 libssl3 \
      libsimdjson14 libsodium23 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/hie --shell /usr/sbin/nologin hie \
    && mkdir -p /var/lib/hie/mpi /etc/hie && chown -R hie:hie /var/lib/hie && chmod 0700 /var/lib/hie/mpi
COPY --from=build /build/bin/hie-mpi /build/bin/hiectl /usr/local/bin/
USER hie
# The config names the certificates under /etc/hie and data_dir /var/lib/hie/mpi.
ENTRYPOINT ["/usr/local/bin/hie-mpi", "--config", "/etc/hie/mpi.textproto"]
