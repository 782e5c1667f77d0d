# Multi-stage build: compile with the full toolchain, run on a slim image as a non-root user.
# tests/container.rs assembles exactly what the build stage copies and checks that cargo
# reads it and that the shipped config passes check-config, so this file cannot drift
# from the repository unnoticed.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Cargo.toml names the benches, so cargo needs them to read the manifest at all.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked --bin sevbot \
 && for c in sevbot slack discord; do ./target/release/sevbot --config config/$c.toml check-config; done

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/sevbot --create-home sevbot
COPY --from=build /src/target/release/sevbot /usr/local/bin/sevbot
# The whole folder: sevbot.toml refers to routes.toml and templates/ beside it.
COPY --from=build /src/config /etc/sevbot
USER sevbot
WORKDIR /var/lib/sevbot
# Mount your own config folder over /etc/sevbot; the SQLite file lives in the
# /var/lib/sevbot volume unless DATABASE_URL points at PostgreSQL.
VOLUME ["/var/lib/sevbot"]
ENV SEVBOT_CONFIG=/etc/sevbot/sevbot.toml \
    SEVBOT_HTTP_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/sevbot/sevbot.db
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["sevbot"]
CMD ["run", "--console", "off"]
