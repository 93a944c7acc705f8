# Detour: two commands. `make run` starts the gateway, `make test` runs the suite.
# Both depend on `make install`, the shared idempotent set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.detour-installed
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: install run test lint typecheck bench lock translations image extension clean

install: $(STAMP)

$(STAMP): requirements.lock requirements-ner.lock requirements-mitmproxy.lock requirements-bench.lock \
          requirements-oidc.lock pyproject.toml package-lock.json \
          deploy/setup-system.sh
	@bash deploy/setup-system.sh
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Detour needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-ner.lock
	@# mitmproxy (for deploy/mitmproxy/detour.py) in its own environment: its pins stay out of Detour's
	@test -x .venv-mitmproxy/bin/python || $(PYTHON) -m venv .venv-mitmproxy
	.venv-mitmproxy/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-mitmproxy.lock
	@# the peers bench/peers.py measures Detour against (DataFog), likewise in an environment of their own
	@test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-bench.lock
	@# a real OpenID Connect provider for the sign-in tests (oidc-provider-mock), likewise
	@test -x .venv-oidc/bin/python || $(PYTHON) -m venv .venv-oidc
	.venv-oidc/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-oidc.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# the browser extension's lint (web-ext), pinned by package-lock.json; no install scripts run
	npm ci --silent --no-audit --no-fund --ignore-scripts
	@touch $(STAMP)

run: install
	$(BIN)/detour serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check gateway detectors alternatives tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	node_modules/.bin/web-ext lint --source-dir extension --self-hosted

bench: install
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/upload_path.py
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/icap_latency.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/simulate.py

# Detour's own texts: extract new gettext messages, then update the Swedish and Dutch catalogues
# (gateway/render/locale/*/LC_MESSAGES/detour.po); translate the new entries and remove the fuzzy flags.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _t:2 --add-location=file --sort-by-file --no-wrap --project=Detour \
		--version=0.1.0 --copyright-holder="Detour contributors" -o gateway/render/locale/detour.pot .
	$(BIN)/pybabel update -i gateway/render/locale/detour.pot -d gateway/render/locale -D detour --no-wrap --ignore-obsolete

# Regenerate the pinned lock file after editing pyproject.toml dependencies.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --universal -o requirements.lock
	@# the container image's: pyproject's dependencies only (no dev tools), at the versions of requirements.lock
	$(BIN)/uv pip compile pyproject.toml deploy/container/build.in -c requirements.lock --python-version 3.11 \
		--generate-hashes --universal -o requirements-runtime.lock
	$(BIN)/uv pip compile bench/requirements.in --python-version 3.11 --generate-hashes --universal -o requirements-bench.lock
	$(BIN)/uv pip compile tests/oidc/requirements.in --python-version 3.11 --generate-hashes --universal -o requirements-oidc.lock

# The container image, without any registry: a base made from Debian packages (mmdebstrap), then podman build.
image: install
	bash deploy/container/base.sh
	rm -rf build/wheels
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements-runtime.lock -d build/wheels
	podman build --format docker -t localhost/detour:0.1.0 .

# The browser extension: build/detour-extension-<version>.zip, and with KEY=key.pem a signed .crx too.
extension: install
	$(BIN)/python scripts/pack_extension.py $(if $(KEY),--key $(KEY))

clean:
	rm -rf $(VENV) .venv-mitmproxy .venv-bench .venv-oidc .pytest_cache .mypy_cache .ruff_cache node_modules
