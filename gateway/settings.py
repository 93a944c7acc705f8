"""Settings for the gateway: one pydantic-settings model, read from ``DETOUR_*`` variables.

``get_settings()`` is cached; tests build their own ``Settings`` and pass it in.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detectors.limits import Limits
from gateway.errors import ConfigurationError

BUNDLED_POLICIES = Path(__file__).resolve().parent.parent / "policies"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var"
LISTEN_BACKLOG = 2048  # connections the kernel holds for a listening socket (capped by net.core.somaxconn)
PLACEHOLDER_KEYS = {"", "change-me", "changeme", "secret", "detour"}
# A browser extension's origin: Chromium's ID is 32 letters a-p; Firefox's is a UUID per installation.
EXTENSION_ORIGIN = re.compile(r"chrome-extension://[a-p]{32}|moz-extension://[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DETOUR_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    policies_dir: Path = BUNDLED_POLICIES
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Detour's own data: EDM fingerprint sets (edm/)")
    hash_key: SecretStr | None = Field(
        default=None,
        description="Key for the keyed hashes of findings, the signatures of forms and console sessions. "
        "Required in production, the same on every replica; in development a key is generated once and kept in "
        "DETOUR_DATA_DIR/hash.key.",
    )
    default_destination: str = Field(
        default="https://unknown-external.invalid/",
        description="Destination assumed when none is given: an unsanctioned external site.",
    )
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    file_seconds: float = Field(default=60.0, gt=0, description="Time limit of one extraction worker")
    upload_seconds: float = Field(default=120.0, gt=0, description="Time limit for all files of one upload")
    worker_memory_mb: int = Field(default=2048, ge=256, description="Address-space limit of an extraction worker")
    inspect_seconds: float | None = Field(default=None, gt=0, description="Deadline of one inspection, whatever "
                                          "the channel; past it the policy's on_error decides. Unset: the upload's "
                                          "time limit (DETOUR_UPLOAD_SECONDS or the policy's) + 30 s")
    inspect_threads: int = Field(default=16, ge=1, le=256, description="Inspections that run at once")
    inspect_queue: int = Field(default=64, ge=0, le=10_000, description="Inspections that may wait for a "
                               "thread; beyond them the policy's on_error decides at once")
    inspect_memory_mb: int = Field(default=1024, ge=16, description="Bytes of uploads held for inspection at "
                                   "once (running and waiting); beyond them the policy's on_error decides at once "
                                   "(one upload alone is always taken)")
    heap_keep_mb: int = Field(default=256, ge=0, le=2047, description="Freed memory each process keeps for "
                              "the next uploads instead of returning it to the system (large uploads then cost no "
                              "fresh pages); 0: the C library's defaults")
    audit_log: Path | None = Field(default=None, description="JSON Lines file for decision records")
    syslog: str = Field(default="", description="SIEM targets for decision and admin events, comma-separated: "
                        "udp://host:514, tcp://host:601, tls://host:6514, each with ?format=cef (default) or "
                        "?format=ocsf; empty: off")
    syslog_ca: Path | None = Field(default=None, description="CA certificates (PEM) that TLS syslog targets' "
                                   "certificates are checked against; unset: the system's")
    syslog_facility: int = Field(default=16, ge=0, le=23, description="Syslog facility of the events (16: local0)")
    spool_mb: int = Field(default=1024, ge=1, description="Disk for decisions that wait while the decision store "
                          "can't be written (DETOUR_DATA_DIR/spool/)")
    retention_days: int = Field(default=180, ge=0, le=36_500, description="Decisions older than this are purged "
                                "from the store (with their requests, reports and route clicks), once an hour; "
                                "0: kept for ever")
    database_url: str = Field(default="", description="SQLAlchemy URL of the decision store; empty: SQLite "
                              "in DETOUR_DATA_DIR (detour.db)")
    public_url: str = Field(default="", description="Where people reach Detour's pages (e.g. https://detour.corp."
                            "example); block pages served by a proxy link there")
    workers: int | None = Field(default=None, ge=1, le=64, description="Processes that answer HTTP and ICAP "
                                "(each with its own inspection threads, queue, memory and connection limits); "
                                "unset: one per core")
    icap_port: int = Field(default=1344, ge=0, le=65535, description="ICAP (REQMOD) port for proxies; 0: off")
    idle_seconds: float = Field(default=60.0, gt=0, le=3600, description="A connection (HTTP keep-alive, ICAP "
                                "persistent) that sends nothing for this long is closed")
    header_seconds: float = Field(default=30.0, gt=0, le=600, description="A request's head (HTTP or ICAP) must "
                                  "arrive within this, once the connection is open or a request has begun")
    body_seconds: float = Field(default=60.0, gt=0, le=3600, description="The longest wait for the next piece of "
                                "a request's body; a client that stalls longer is answered 408 and closed")
    icap_max_connections: int = Field(default=200, ge=1, le=100_000, description="ICAP connections at once "
                                      "(advertised as Max-Connections); more are answered 503 and closed")
    http_max_connections: int = Field(default=1000, ge=1, le=100_000, description="HTTP connections and requests "
                                      "at once; more are answered 503")
    oidc_issuer: str = Field(default="", description="IT's sign-in to the console (/admin): the OpenID Connect "
                             "provider's issuer URL (Entra ID, Okta, Keycloak, Google); empty: no sign-in")
    oidc_client_id: str = Field(default="", description="Detour's client id at the provider")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Detour's client secret at the provider")
    oidc_groups_claim: str = Field(default="groups", description="The claim that lists a person's groups")
    oidc_roles: str = Field(default="", description="Groups and the console role each gives, comma-separated: "
                            "it-security=reviewer,it-admins=policy_admin,it-helpdesk=viewer (the highest wins)")
    admin_session_minutes: int = Field(default=60, ge=5, le=24 * 60, description="A console session ends after "
                                       "this long without a request")
    api_auth: Literal["required", "optional"] | None = Field(
        default=None, description="required: every API call (/v1/…) needs a client token (detour client token "
        "create); optional: calls without one are taken, as anonymous (recorded by their address, never naming a "
        "user). Unset: required in production, optional in development")
    icap_clients: str = Field(default="127.0.0.0/8,::1", description="Addresses (comma-separated, CIDR "
                              "allowed) of the proxies that may use the ICAP service: whoever reaches it names the "
                              "user and the address of an upload; others are answered 403 and closed")
    trusted_proxies: str = Field(default="", description="Addresses (comma-separated, CIDR allowed) of reverse "
                                 "proxies in front of the HTTP API whose X-Forwarded-For names the caller; empty: "
                                 "the address a connection comes from is the caller's")
    extension_origins: str = Field(default="", description="Origins (comma-separated) of the browser extensions "
                                   "that may call the API from the browser (CORS), e.g. "
                                   "chrome-extension://abcdefghijklmnopabcdefghijklmnop; empty: none")
    icap_user_header: str = Field(default="X-Client-Username", description="ICAP header naming the user")
    icap_user_base64: bool = Field(default=False, description="The user header is base64 "
                                   "(Squid: icap_client_username_encode on)")
    justification_minutes: int = Field(default=30, ge=1, le=24 * 60, description="How long a business "
                                       "justification for a warning lets the same file go to the same site")
    helpdesk_webhook_url: str = Field(default="", description="Where tickets, review requests and 'looks wrong' "
                                      "reports are POSTed as JSON (see docs/helpdesk-webhook.md); empty: off")
    helpdesk_webhook_secret: SecretStr | None = Field(default=None, description="Key for the webhook's "
                                                      "X-Detour-Signature (HMAC-SHA256 of the body)")
    helpdesk_webhook_timeout: float = Field(default=5.0, gt=0, le=60)
    ner_model: str = Field(default="", description="spaCy pipeline (package name or directory) for names in "
                           "prose; empty: the NER extra is off")
    ner_max_chars: int = Field(default=100_000, ge=0, description="Characters of each prose part given to NER")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _webhook_is_a_web_address(self) -> Settings:
        url = self.helpdesk_webhook_url
        if url and (not url.startswith(("https://", "http://")) or "://" == url[-3:]):
            raise ValueError(f"DETOUR_HELPDESK_WEBHOOK_URL must be an http(s) URL, not {shown_url(url)!r}")
        return self

    @model_validator(mode="after")
    def _syslog_targets(self) -> Settings:
        try:
            syslog_targets(self.syslog)
        except ValueError as exc:
            raise ValueError(f"DETOUR_SYSLOG: {exc}") from exc
        if self.syslog_ca is not None and not self.syslog_ca.is_file():
            raise ValueError(f"DETOUR_SYSLOG_CA: {self.syslog_ca} is not a file")
        return self

    @model_validator(mode="after")
    def _addresses_are_networks(self) -> Settings:
        for name in ("icap_clients", "trusted_proxies"):
            try:
                networks(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"DETOUR_{name.upper()}: {exc} (give addresses or networks such as "
                                 "10.0.0.5,10.1.0.0/16, separated by commas)") from exc
        return self

    @model_validator(mode="after")
    def _extension_origins(self) -> Settings:
        for origin in extension_origins(self.extension_origins):
            if not EXTENSION_ORIGIN.fullmatch(origin):
                raise ValueError(f"DETOUR_EXTENSION_ORIGINS: {shown_url(origin)!r} is not an extension's origin "
                                 "(chrome-extension://<32 letters a-p>, or moz-extension://<UUID>)")
        return self

    @model_validator(mode="after")
    def _no_placeholder_key_in_production(self) -> Settings:
        key = self.hash_key.get_secret_value() if self.hash_key else ""
        if self.environment == "production":
            if key.lower() in PLACEHOLDER_KEYS or len(key) < 16:
                raise ValueError("DETOUR_HASH_KEY must be set to a random value of 16+ characters in production")
        elif key and len(key) < 16:  # set, but too short to be used: not silently replaced by another key
            raise ValueError("DETOUR_HASH_KEY must be 16+ characters (or unset in development: a key is made in "
                             "DETOUR_DATA_DIR/hash.key)")
        return self

    @property
    def api_auth_required(self) -> bool:
        return (self.api_auth or ("required" if self.environment == "production" else "optional")) == "required"

    def hash_key_bytes(self) -> bytes:
        """The key of finding hashes and signatures: DETOUR_HASH_KEY, or (development) the key generated for this
        data folder, so every worker and every restart hashes and signs alike."""
        if self.hash_key is not None and len(self.hash_key.get_secret_value()) >= 16:
            return self.hash_key.get_secret_value().encode()
        return _development_key(self.data_dir)

    def limits(self) -> Limits:
        return Limits(max_upload_bytes=self.max_upload_bytes, file_seconds=self.file_seconds,
                      upload_seconds=self.upload_seconds, worker_memory_bytes=self.worker_memory_mb * 1024 * 1024)


HASH_KEY_FILE = "hash.key"


def _development_key(data_dir: Path) -> bytes:
    """The key kept in ``data_dir/hash.key`` (made on first use, readable by Detour's user only). A file that
    can't be read or written is an error: a key of its own per process would make workers disagree."""
    path = data_dir / HASH_KEY_FILE
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as problem:  # every worker and restart must hash alike: never a key of its own
        raise ConfigurationError(f"{path} can't be read ({getattr(problem, 'strerror', None) or problem}): it holds "
                                 "this installation's hash key. Restore it, or remove it to make a new one (finding "
                                 "hashes and EDM sets made with the old key no longer match)") from problem
    else:
        if len(key) < 16:
            raise ConfigurationError(f"{path} holds no usable key ({len(key)} bytes): restore it, or remove it to "
                                     "make a new one")
        return key
    key = secrets.token_bytes(32)
    temporary = data_dir / f".{HASH_KEY_FILE}.{os.getpid()}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key.hex() + "\n")
        os.link(temporary, path)  # whole or not at all: a worker starting meanwhile reads all of it or nothing
    except FileExistsError:  # another worker made it meanwhile
        return _development_key(data_dir)
    except OSError as problem:
        raise ConfigurationError(f"DETOUR_HASH_KEY is not set and {path} can't be written "
                                 f"({problem.strerror or problem}): set DETOUR_HASH_KEY, or let Detour write "
                                 "DETOUR_DATA_DIR") from problem
    finally:
        temporary.unlink(missing_ok=True)
    log.info("DETOUR_HASH_KEY is not set: a key was generated for this installation in %s (set DETOUR_HASH_KEY "
             "in production, the same on every replica)", path)
    return key


def extension_origins(listing: str) -> tuple[str, ...]:
    """The extension origins of DETOUR_EXTENSION_ORIGINS, as the browser sends them (no trailing slash)."""
    return tuple(origin.strip().rstrip("/") for origin in listing.split(",") if origin.strip())


def networks(listing: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.5, 10.1.0.0/16"`` as networks; raises ``ValueError`` naming what is not one."""
    return tuple(ip_network(item.strip(), strict=False) for item in listing.split(",") if item.strip())


@dataclass(frozen=True)
class SyslogTarget:
    transport: Literal["udp", "tcp", "tls"]
    host: str
    port: int
    format: Literal["cef", "ocsf"] = "cef"

    def __str__(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}?format={self.format}"


def shown_url(url: str) -> str:
    """A URL as an error message may show it: without a password, and not too long."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            url = url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return url if len(url) <= 100 else url[:100] + "…"


def syslog_targets(listing: str) -> tuple[SyslogTarget, ...]:
    """``DETOUR_SYSLOG`` read; raises ``ValueError`` naming what is wrong."""
    found = []
    for given in (part.strip() for part in listing.split(",")):
        if not given:
            continue
        item = shown_url(given)
        parts = urlsplit(given)
        if parts.scheme not in ("udp", "tcp", "tls"):
            raise ValueError(f"{item!r}: a syslog target starts with udp://, tcp:// or tls://")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise ValueError(f"{item!r}: give a host and a port, e.g. tls://siem.corp.example:6514")
        query = parse_qs(parts.query)
        wanted = query.pop("format", ["cef"])[-1].lower()
        if wanted not in ("cef", "ocsf") or query:
            raise ValueError(f"{item!r}: the only option is ?format=cef or ?format=ocsf")
        found.append(SyslogTarget(parts.scheme, parts.hostname, port, wanted))  # type: ignore[arg-type]
    return tuple(found)



def valid_address(text: str | None) -> str | None:
    """The text when it is an IP address (as sent by a proxy or a client), else None."""
    candidate = (text or "").strip()
    try:
        ip_address(candidate)  # an IPv6 address may name its zone (fe80::1%eth0); nothing else may
    except ValueError:
        return None
    return candidate[:64]


def address_in(address: str | None, allowed: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    """Whether an address (IPv4, IPv6, or IPv4 mapped into IPv6) is in one of the networks."""
    try:
        ip = ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
