# syntax=docker/dockerfile:1
# Build stage: SQLite and libpq are bundled into the binary; the image enables TLS to
# PostgreSQL (postgres-tls), which links the OpenSSL that the rust image and ca-certificates bring.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY openapi.yaml ./
RUN cargo build --release --locked --features postgres-tls --bin scorekeeper

# Runtime stage: a small Debian with CA certificates for SMTP over TLS, running as non-root.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 scorekeeper \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home scorekeeper
COPY --from=build /src/target/release/scorekeeper /usr/local/bin/scorekeeper
USER 10001:10001
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/scorekeeper.db \
    LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/data"]
# The binary probes its own /healthz (the database answers too): the image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/scorekeeper", "healthcheck"]
# SIGTERM: stop accepting, finish in-flight requests (SHUTDOWN_GRACE_SECS), commit queued
# answers, exit 0. Keep the orchestrator's stop timeout above the grace period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/scorekeeper"]
CMD ["serve"]
