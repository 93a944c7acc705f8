# Detour: the HTTP API and pages on 8080, ICAP on 1344, as a non-root user.
# No registry and no index is needed while it builds (make image does all three steps):
#   bash deploy/container/base.sh                   the base, from Debian packages (mmdebstrap)
#   pip download --require-hashes --no-deps -r requirements-runtime.lock -d build/wheels
#   podman build -t localhost/detour:0.1.0 .
#   podman run -p 8080:8080 -p 1344:1344 -v detour-data:/data -e DETOUR_HASH_KEY=… localhost/detour:0.1.0
# Your policy: -v /etc/detour/policies:/etc/detour/policies:ro (edits are reloaded without a restart).
ARG BASE=localhost/detour-base:bookworm
FROM ${BASE}

ENV PATH=/opt/detour/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    DETOUR_DATA_DIR=/data \
    DETOUR_POLICIES_DIR=/etc/detour/policies \
    DETOUR_HOST=0.0.0.0

# the pinned, hash-checked dependencies first, from the wheels downloaded beside (no index reached while
# building); this layer is kept while only Detour's code changes. The lock is copied, not mounted: a changed
# lock must make a new layer (a mounted file is no part of the build cache's key)
COPY requirements-runtime.lock /opt/requirements-runtime.lock
RUN --mount=type=bind,source=build/wheels,target=/tmp/wheels \
    python3 -m venv /opt/detour \
 && /opt/detour/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /tmp/wheels \
        --require-hashes --no-deps -r /opt/requirements-runtime.lock

WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY detectors ./detectors
COPY alternatives ./alternatives
RUN /opt/detour/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation . \
 && rm -rf /src

COPY policies/*.yaml /etc/detour/policies/
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home detour \
 && mkdir -p /data \
 && chown detour:detour /data \
 && chmod 0700 /data

WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080 1344
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
# tini as PID 1: it reaps what a worker's extraction processes leave when the worker ends
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["detour", "serve"]
