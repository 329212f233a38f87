# Build stage: the pinned toolchain, a release build with the committed Cargo.lock.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY proto-tests ./proto-tests
COPY bench ./bench
RUN cargo build --release --locked --bin mailroom

# Run stage: a small Debian with CA certificates and an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin mailroom \
 && mkdir -p /data /certs /etc/mailroom \
 && chown mailroom:mailroom /data /certs
COPY --from=build /src/target/release/mailroom /usr/local/bin/mailroom
COPY config/docker.toml /etc/mailroom/mailroom.toml
USER mailroom
VOLUME ["/data", "/certs"]
# SMTP MX, submission (STARTTLS), submissions (TLS), IMAP (STARTTLS), IMAPS, HTTP API.
EXPOSE 2525 2587 2465 1143 1993 8080
ENV MAILROOM_CONFIG=/etc/mailroom/mailroom.toml
ENTRYPOINT ["mailroom"]
CMD ["serve"]
