# syntax=docker/dockerfile:1
# MapQuiz Server: the `mapquiz` binary in a small Debian image, run as a non-root user.
#
#   docker build -t mapquiz-server .
#   docker run -p 3000:3000 -e BETTER_AUTH_SECRET=… -e MAPQUIZ_FRONTEND_URL=… -e SERVER_URL=… mapquiz-server
#
# See "Running in production" in the README for the variables, docker-compose.yml and fly.toml.

# The toolchain that builds the release (the workspace needs Rust 1.94 or newer). Builder and runtime share
# the same Debian release, so the binary links against the glibc it will run with.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src

# 1. Dependencies only, in their own layer: it is rebuilt when a manifest or Cargo.lock changes, not when the
#    code does. The workspace's crates are stubs here; `cargo clean -p` then drops the stubs' artifacts so
#    that step 2 compiles the real code whatever the files' timestamps.
COPY Cargo.toml Cargo.lock ./
COPY crates/mapquiz-domain/Cargo.toml crates/mapquiz-domain/
COPY crates/mapquiz-store/Cargo.toml crates/mapquiz-store/
COPY crates/mapquiz-server/Cargo.toml crates/mapquiz-server/
COPY crates/mapquiz-bench/Cargo.toml crates/mapquiz-bench/
RUN set -eux; \
    for c in domain store server; do mkdir -p crates/mapquiz-$c/src; : > crates/mapquiz-$c/src/lib.rs; done; \
    mkdir -p crates/mapquiz-bench/src; \
    echo 'fn main() {}' > crates/mapquiz-server/src/main.rs; \
    echo 'fn main() {}' > crates/mapquiz-bench/src/main.rs; \
    cargo build --release --locked -p mapquiz-server; \
    cargo clean --release -p mapquiz-domain -p mapquiz-store -p mapquiz-server; \
    rm -rf crates

# 2. The code. Migrations are embedded in the binary at compile time (sqlx::migrate!).
COPY crates crates
RUN cargo build --release --locked -p mapquiz-server \
    && install -D -m 0755 target/release/mapquiz /out/mapquiz

# ---------------------------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates: TLS to Google sign-in, GitHub and rediss:// Redis (rustls reads the system roots).
# Nothing else: time zones are compiled into the binary (chrono-tz), SQLite too.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid, so that a mounted volume can be chowned to it from the host.
RUN groupadd --system --gid 10001 mapquiz \
    && useradd --system --uid 10001 --gid mapquiz --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin mapquiz \
    && install -d -o mapquiz -g mapquiz -m 0750 /data

COPY --from=build /out/mapquiz /usr/local/bin/mapquiz

# Health check without curl or wget: the slim image has neither, and `mapquiz` has no client command. bash
# (always in Debian images) opens a TCP connection to the server through /dev/tcp and sends a plain HTTP/1.1
# GET /livez; the check passes only on a "200" status line. That adds no package (nothing to patch, nothing
# an intruder could use to fetch a payload) and works as the non-root user. /livez, not /readyz: a database
# outage must not make an orchestrator restart healthy processes (readiness is for the load balancer; Fly's
# check in fly.toml uses /readyz). It assumes the server listens on all interfaces or loopback (the default).
COPY --chmod=0755 <<'EOF' /usr/local/bin/mapquiz-healthcheck
#!/bin/bash
# Exit 0 when GET http://127.0.0.1:$PORT/livez answers 200.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/${PORT:-3000}"
printf 'GET /livez HTTP/1.1\r\nHost: localhost\r\nUser-Agent: mapquiz-healthcheck\r\nConnection: close\r\n\r\n' >&3
read -r -t 3 _version status _rest <&3
[ "$status" = 200 ]
EOF

# The working directory holds the default SQLite database (mapquiz.db) and an optional mapquiz.toml; mount a
# volume there to keep them. With DATABASE_URL pointing at PostgreSQL, nothing is written to it.
WORKDIR /data
VOLUME ["/data"]

ENV MAPQUIZ_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000

USER mapquiz:mapquiz

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/mapquiz-healthcheck"]

# The server handles SIGTERM: not ready, stop accepting, drain for shutdown_timeout_ms (10 s), close the store.
# Give it longer than that before SIGKILL (docker stop -t 20, stop_grace_period in compose).
STOPSIGNAL SIGTERM

# No ENTRYPOINT: any command can replace this one, e.g. `docker run … mapquiz-server mapquiz migrate up`
# (Fly's release_command runs `mapquiz migrate up` the same way).
CMD ["mapquiz", "serve"]
