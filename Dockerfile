# postsearch in a container: built from this repository, served as a
# non-root user, the index on a volume.
#
#   docker build -t postsearch .
#   docker run -p 7700:7700 -v postsearch:/var/lib/postsearch postsearch
#
# Your posts: mount them and point the first run at them
#   docker run -p 7700:7700 -v postsearch:/var/lib/postsearch \
#     -v "$PWD/posts:/posts:ro" -e POSTSEARCH_SERVER_DATA_DIR=/posts postsearch
# Writes: a token in a file (a secret), never in the image
#   -v "$PWD/token:/run/secrets/write_token:ro" \
#   -e POSTSEARCH_SERVER_WRITE_TOKEN_FILE=/run/secrets/write_token

# --- build ---------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY src src
COPY benches benches
COPY docs/openapi.json docs/openapi.json
RUN cargo build --release --locked --bin postsearch \
    && strip target/release/postsearch

# --- run -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/postsearch --shell /usr/sbin/nologin postsearch \
    && mkdir -p /var/lib/postsearch \
    && chown postsearch:postsearch /var/lib/postsearch
COPY --from=build /src/target/release/postsearch /usr/local/bin/postsearch
# The bundled sample, indexed on the first start when no posts are mounted.
COPY data /usr/share/postsearch/data
ENV POSTSEARCH_SERVER_ADDR=0.0.0.0:7700 \
    POSTSEARCH_INDEX=/var/lib/postsearch/index \
    POSTSEARCH_SERVER_DATA_DIR=/usr/share/postsearch/data
USER postsearch
WORKDIR /var/lib/postsearch
VOLUME /var/lib/postsearch
EXPOSE 7700
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/postsearch"]
CMD ["serve"]
