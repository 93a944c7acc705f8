# Detour gateway: the HTTP API on port 8080 with the bundled policies.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY gateway ./gateway
COPY detectors ./detectors
COPY alternatives ./alternatives
COPY policies ./policies
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && useradd --system --uid 10001 detour
# The bundled policies live beside the code; mount your own over /app/policies.
ENV DETOUR_POLICIES_DIR=/app/policies
USER detour
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["detour", "serve", "--host", "0.0.0.0", "--port", "8080"]
