# Multi-stage build: compile with the full toolchain, run on a slim image as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/sevbot --create-home sevbot
COPY --from=build /src/target/release/sevbot /usr/local/bin/sevbot
COPY config/sevbot.toml /etc/sevbot/sevbot.toml
USER sevbot
WORKDIR /var/lib/sevbot
# Mount your own config over /etc/sevbot/sevbot.toml; the SQLite file lives in the
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
