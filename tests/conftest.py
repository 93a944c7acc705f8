"""Shared fixtures: the bundled policy, a runtime (pipeline, store), the dev corpus, real services per run."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.pipeline import Pipeline
from gateway.policy.loader import Policy
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import DecisionStore
from tests.browser import (
    Extension,
    Relay,
    UploadSite,
    chromium,
    configure_on_options_page,
    managed_policy,
    prepare_extension,
    removed,
    start_upload_site,
)
from tests.services import (
    DetourService,
    Origin,
    require,
    start_detour,
    start_oidc,
    start_origin,
    start_postgres,
    start_squid,
)

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CORPUS = Path(os.environ.get("DETOUR_CORPUS", ROOT.parent / "shared" / "corpus" / "files"))


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Test names never carry a value that looks like personal data (fake or not): a short hash instead."""
    if isinstance(val, str) and any(ch.isdigit() or ch == "@" for ch in val):
        return f"{argname}-{zlib.crc32(val.encode()):08x}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread once the
    session's browser has started, and tests that run their own loop (asyncio.run) can't run after it."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("data")  # the decision store (SQLite) and EDM sets of this run
    return Settings(policies_dir=POLICIES, hash_key=secrets.token_hex(16), data_dir=data)


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = Runtime.build(settings)
    yield built
    built.close()


@pytest.fixture
def make_runtime(settings: Settings) -> Iterator[Callable[..., Runtime]]:
    """Runtimes of a test's own, from the session's settings with some changed; closed after the test."""
    built: list[Runtime] = []

    def make(**changes: Any) -> Runtime:
        runtime = Runtime.build(settings.model_copy(update=changes))
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


@pytest.fixture(scope="session")
def pipeline(runtime: Runtime) -> Pipeline:
    return runtime.pipeline


@pytest.fixture(scope="session")
def store(runtime: Runtime) -> DecisionStore:
    return runtime.store


@pytest.fixture(scope="session")
def policy(runtime: Runtime) -> Policy:
    return runtime.policy


@pytest.fixture(scope="session")
def corpus_labels() -> dict[str, dict[str, str]]:
    labels = CORPUS / "labels.json"
    if not labels.is_file():
        pytest.fail(f"the dev corpus is missing: expected {labels} (set DETOUR_CORPUS to its folder)")
    data: dict[str, dict[str, str]] = json.loads(labels.read_text())
    return data


# --- real services, once per run (end-to-end tests) -------------------------------------------


def policies_with_warnings(folder: Path, loopback_is_external: bool = False) -> Path:
    """The bundled policy plus examples/warn-bank-accounts.yaml (IBANs to unsanctioned sites: warn).

    ``loopback_is_external``: the local origin server the proxy tests upload to stands for an
    external site, so loopback is not the internal network.
    """
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("examples", "tests"))
    shutil.copy(POLICIES / "examples" / "warn-bank-accounts.yaml", policies)
    if loopback_is_external:
        destinations = policies / "destinations.yaml"
        text = destinations.read_text()
        assert "127.0.0.0/8, " in text
        destinations.write_text(text.replace("127.0.0.0/8, ", ""))
    return policies


def policies_reading_sanctioned(folder: Path) -> Path:
    """The bundled policy plus a rule that warns about contact lists on sanctioned sites too: uploads there
    are read (and can time out), where the shipped policy lets them go unread."""
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("examples", "tests"))
    (policies / "warn-sanctioned.yaml").write_text(
        "rules:\n  - id: warn-contact-lists-anywhere\n    when: {sanctioned: true, data_classes: [contact_data]}\n"
        "    action: warn\n    reason: {en: '{found}', sv: '{found}', nl: '{found}'}\n")
    return policies


@pytest.fixture(scope="session")
def helpdesk() -> Iterator[Origin]:
    """A helpdesk's webhook receiver: records what Detour sends, answers like ServiceNow's table API."""
    for receiver in start_origin():
        receiver.host, receiver.status, receiver.content_type = "127.0.0.1", 201, "application/json"
        receiver.answer = json.dumps({"result": {"number": "INC0010001", "sys_id": "a1b2"}}).encode()
        yield receiver


OIDC_ROLES = "it-helpdesk=viewer,it-security=reviewer,it-admins=policy_admin"


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenID Connect provider for the run (IT's sign-in to the console)."""
    yield from start_oidc(tmp_path_factory.mktemp("oidc"))


@pytest.fixture(scope="session")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Extension:
    """Detour's browser extension as shipped, with a key of this run's (its ID, so its origin, is known)."""
    return prepare_extension(tmp_path_factory.mktemp("extension"))


@pytest.fixture(scope="session")
def detour_service(tmp_path_factory: pytest.TempPathFactory, helpdesk: Origin,
                   oidc_issuer: str, extension: Extension) -> Iterator[DetourService]:
    """`detour serve` as a real process: the HTTP API and the ICAP server, with its helpdesk webhook and IT's
    sign-in through the run's OpenID Connect provider (groups: OIDC_ROLES).

    Its policy is the bundled one with warnings for bank account numbers, except that loopback is
    not the internal network: the local origin server the proxy tests upload to stands for an
    external site.
    """
    tmp = tmp_path_factory.mktemp("detour")
    policies = policies_with_warnings(tmp, loopback_is_external=True)
    yield from start_detour(tmp, {"DETOUR_POLICIES_DIR": str(policies),
                                  "DETOUR_HELPDESK_WEBHOOK_URL": f"{helpdesk.url}/api/now/table/incident",
                                  "DETOUR_OIDC_ISSUER": oidc_issuer, "DETOUR_OIDC_CLIENT_ID": "detour",
                                  "DETOUR_OIDC_CLIENT_SECRET": "e2e-secret", "DETOUR_OIDC_ROLES": OIDC_ROLES,
                                  "DETOUR_EXTENSION_ORIGINS": extension.origin})


@pytest.fixture(scope="session")
def origin() -> Iterator[Origin]:
    yield from start_origin()


@pytest.fixture(scope="session")
def squid(tmp_path_factory: pytest.TempPathFactory, detour_service: DetourService, origin: Origin) -> Iterator[str]:
    yield from start_squid(tmp_path_factory.mktemp("proxy"), detour_service.icap_port, origin.host)


@pytest.fixture(scope="session")
def relay(detour_service: DetourService) -> Iterator[Relay]:
    """The extension's way to Detour: a test switches it off to see what the extension does with Detour down."""
    port = int(detour_service.http.rsplit(":", 1)[1])
    relayed = Relay(port)
    yield relayed
    relayed.close()


@pytest.fixture(scope="session")
def upload_site() -> Iterator[UploadSite]:
    yield from start_upload_site()


EXTENSION_USER = "e.lindqvist"  # who the extension says is uploading (managed settings)
EXTENSION_TIMEOUT = 12  # seconds the extension waits for Detour's answer (managed settings)


@pytest.fixture(scope="session")
def browser(extension: Extension, relay: Relay, detour_service: DetourService, squid: str,
            origin: Origin) -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright over the DevTools protocol (no browser download): one
    per run. Its default context (``browser.contexts[0]``) has Detour's extension, configured by enterprise
    policy to reach Detour through ``relay``; contexts the tests open are plain. Uploads to the origin's
    external name go through the run's Squid (a PAC script), the rest straight."""
    from playwright.sync_api import sync_playwright

    executable = require("chromium", "chromium")
    settings = {"detourUrl": relay.url, "apiToken": detour_service.token, "userSource": "managed",
                "user": EXTENSION_USER, "pasteTextMinChars": 500, "timeoutSeconds": EXTENSION_TIMEOUT}
    policy = managed_policy(extension, settings)
    squid_host = squid.split("://", 1)[1]
    pac = (f'function FindProxyForURL(url, host) {{ return host == "{origin.host}" ? "PROXY {squid_host}" '
           ': "DIRECT"; }')
    try:
        with chromium(executable, extension, pac) as endpoint, sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(endpoint)
            try:
                if policy is None:  # not root: set up as a small install would, on the options page
                    configure_on_options_page(browser.contexts[0], extension, settings)
                yield browser
            finally:
                browser.close()
    finally:
        removed(policy)


ARTIFACTS = ROOT / "test-artifacts"  # screenshots of what people see; not committed


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for this run: the SQLAlchemy URL of its maintenance database."""
    yield from start_postgres()
