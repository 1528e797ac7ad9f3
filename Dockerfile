# syntax=docker/dockerfile:1
# helix-sync: multi-stage build. cargo-chef caches the dependency build in its own layer,
# so a source-only change rebuilds just the crate. The runtime is Debian slim; the service
# runs as the unprivileged `helix` user (uid 10001): the entrypoint starts as root only to
# hand a mounted volume (Fly mounts /data as root) to that user, then drops privileges with
# setpriv. SQLite is bundled and TLS is rustls: no system library beyond CA certificates.
# One layout on Docker and Fly alike: everything that lasts is under /data (the database,
# /data/exports, /data/backups), one volume.

ARG RUST_VERSION=1
FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# The build settings (SQLite's compile flags) must be there when the dependencies are cooked.
COPY .cargo .cargo
RUN cargo chef cook --profile dist --recipe-path recipe.json
COPY . .
# `dist`: the release profile with fat LTO and one codegen unit (smaller, less resident).
RUN cargo build --profile dist --locked --bin helix-sync \
 && strip target/dist/helix-sync

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin helix \
 && mkdir -p /app /data/exports /data/backups \
 && chown -R helix:helix /app /data
WORKDIR /app
COPY --from=builder /app/target/dist/helix-sync /usr/local/bin/helix-sync
COPY --chown=helix:helix config ./config
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# MALLOC_ARENA_MAX: glibc's malloc keeps freed memory per thread arena (8 per core by
# default); two arenas keep the resident set near what the service really holds
# (`cargo bench --bench memory`, README "Benchmarks").
ENV HELIX_BIND=0.0.0.0:8080 \
    MALLOC_ARENA_MAX=2 \
    HELIX_LOG_FORMAT=json \
    DATABASE_URL=sqlite:///data/helix-sync.db \
    EXPORT_PATH=/data/exports
EXPOSE 8080 8001
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health > /dev/null || exit 1
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
