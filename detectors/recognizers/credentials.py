"""Recognizers for credentials known by their surroundings rather than their own shape.

A password is any text, an Azure storage key is 64 random bytes in base64, a
Twilio auth token is 32 hex digits, a GCP key file is JSON: what makes each a
credential is where it stands. ``user:password@`` in a URL, ``Password=`` next
to ``Server=`` in a connection string, ``AccountKey=`` in an Azure connection
string, ``sig=`` with ``sv=`` and ``se=`` in a SAS query, a Twilio SID with its
secret beside it, a ``private_key_id`` in a service-account key file. Each
recognizer reports the secret itself, so a masked finding, a digest and a
redacted copy cover the secret and nothing around it. Placeholders
(``${DB_PASSWORD}``, ``<password>``, ``****``), documentation hosts
(example.com) and well-known defaults are not secrets.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from urllib.parse import unquote

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from detectors import entities
from detectors.prefilter import Scope, Trigger
from detectors.recognizers.base import SHAPE_ONLY, DetourRecognizer
from detectors.recognizers.secrets import CASE_SENSITIVE, DOCUMENTATION_KEYS, looks_like_placeholder

SHAPE_ONLY_SCORE = -1.0


class _SurroundedRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    """A recognizer whose candidates are checked against the text around them (which a pattern's
    ``validate_result`` cannot see); ``found`` yields the secrets' spans and scores."""

    ENTITY = ""
    CONTEXT: list[str] = []

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__, context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        return self.analyze_range(text, 0, len(text))

    def analyze_range(self, text: str, start: int, end: int) -> list[RecognizerResult]:
        spans = {(lo, hi): score for lo, hi, score in self.found(text, start, end) if start <= lo and hi <= end}
        return [RecognizerResult(self.ENTITY, lo, hi, score) if score != SHAPE_ONLY_SCORE
                else RecognizerResult(SHAPE_ONLY, lo, hi, 1.0) for (lo, hi), score in spans.items()]

    def found(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
        """(start, end, score) of each secret; ``SHAPE_ONLY_SCORE`` for a span written like one that is not
        (a placeholder), which no other recognizer may then claim."""
        raise NotImplementedError


# --- passwords -------------------------------------------------------------------------------------------------

# What documentation and templates write where a password goes ("tiger": Oracle's scott/tiger demo account,
# in countless database docs). Weak real passwords ("letmein", "Password123!") are not on the list.
PLACEHOLDER_PASSWORDS = frozenset({
    "pass", "pwd", "pw", "secret", "changeme", "changeit", "change_me", "example", "redacted", "hidden", "none",
    "null", "nil", "empty", "undefined", "xxx", "token", "apikey", "api_key", "foo", "bar", "baz", "tiger",
})
_PLACEHOLDER_PASSWORD_WORDS = ("your", "example", "changeme", "change_me", "placeholder", "redacted", "xxxx",
                               "****", "<", ">", "${", "{{", "...", "…")
_TEMPLATE = re.compile(
    r"^(?:\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|%[A-Za-z_]+%|\{\{?[^}]*\}?\}|<[^>]*>|\[[^\]]*\]|%s|%\([a-z_]+\)s"
    r"|:[A-Za-z_][A-Za-z0-9_]*|@[A-Za-z_][A-Za-z0-9_]*@|#\{[^}]*\}|__[A-Z0-9_]+__"
    # an identifier naming what goes there: "db_password", "my_secret", "DB_PASSWORD", "myPassword"
    r"|[a-z_]*(?:pass|secret|token|key)[a-z_]*|[A-Z_][A-Z0-9_]*(?:PASS|SECRET|TOKEN|KEY)[A-Z0-9_]*"
    # in camelCase: "myPassword", "dbPassword", "yourSecretKey" (connection-string documentation's own words)
    r"|[a-z]+(?:[A-Z][a-z]*)*(?:Pass|Pwd|Secret|Token|Key)[a-z]*(?:[A-Z][a-z]*)*)$"
)
# Hosts reserved for documentation (RFC 2606/6761) and the names templates write for "your server".
_PLACEHOLDER_HOST = re.compile(
    r"(?:^|\.)(?:example|invalid|test)(?:\.[a-z]{2,}){0,2}\.?$|^(?:host|hostname|server|your[-_]?host|db[-_]?host|"
    r"domain|yourdomain\.com|host\.com|server\.com)$|[<>{}$%]", re.IGNORECASE)
# Users whose "password" is no secret: anonymous FTP asks for an e-mail address.
_ANONYMOUS = frozenset({"anonymous", "ftp"})


def looks_like_placeholder_password(password: str) -> bool:
    lowered = password.lower()
    return (
        lowered in PLACEHOLDER_PASSWORDS
        or bool(_TEMPLATE.match(password))
        or any(word in lowered for word in _PLACEHOLDER_PASSWORD_WORDS)
        or len(set(password)) == 1  # "x", "****", "......"
    )


# scheme://user:password@host — the user without ":", the password up to the last "@" before the host.
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,30}://"
    r"(?P<user>[^\s:/@?#\"'<>\\]{0,128}):(?P<password>[^\s/?#\"'<>\\]{1,128})"
    r"@(?P<host>[A-Za-z0-9_\[][^\s/?#\"'<>\\:,;]{0,252})"
)
# Password=… / Pwd=… in an ADO.NET, ODBC or JDBC connection string, or a URL's query.
_CONNECTION_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?i:password|pwd)[ \t]{0,8}=[ \t]{0,8}"  # quoted or braced (quotes JSON-escaped or not)
    r"(?:\{(?P<braced>(?:[^}\r\n]|\}\}){1,128})\}|\\?\"(?P<quoted>[^\"\r\n\\]{1,128})\\?\"|'(?P<single>[^'\r\n]{1,128})'"
    r"|(?P<bare>[^;&\s\"'<>\\]{1,128}))"
)
# Another key of the same connection string: a password beside one of these is a database's.
_CONNECTION_KEY = re.compile(
    r"(?i)(?:^|[;&?\"'\s])[ \t]*(?:server|data source|datasource|host|hostname|address|addr|network address|"
    r"database|initial catalog|dbname|user id|userid|uid|user|username|user name|driver|provider|dsn|port|"
    r"trusted_connection|encrypt|sslmode)[ \t]*="
)
_CONNECTION_REACH = 300  # characters either side of a password searched for the rest of its connection string


class PasswordRecognizer(_SurroundedRecognizer):
    """Passwords in ``scheme://user:password@host`` URLs (any scheme: databases, brokers, FTP, HTTP, SMTP…)
    and in connection strings (``Password=…;`` / ``Pwd=…;`` beside ``Server=``, ``User Id=``, ``Database=``…).

    A connection string's password is reported alone; a URL's with its user and host
    (``user:password@host``, which also keeps ``password@host`` from passing for an e-mail address). A
    password equal to its user name (``guest:guest``, ``postgres:postgres``) is a product's default, and a
    URL to a documentation host (example.com) is an example: neither is a finding.
    """

    TRIGGERS = (Trigger(r"://[^\s/@:]*:[^\s/@]*@", before=32, after=400),
                Trigger(r"(?:password|pwd)[ \t]{0,8}=", before=1, after=150, caseless=True))
    ENTITY = entities.PASSWORD
    CONTEXT = ["password", "pwd", "passwd", "connection string", "credentials"]

    def found(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
        for match in _URL_USERINFO.finditer(text, start, end):
            password, user = unquote(match.group("password")), unquote(match.group("user"))
            secret = (password != user and user.lower() not in _ANONYMOUS
                      and not looks_like_placeholder_password(password)
                      and not _PLACEHOLDER_HOST.search(match.group("host")))
            # The whole "user:password@host": "password@host" is no e-mail address, whether or not a secret.
            yield match.start("user"), match.end("host"), 1.0 if secret else SHAPE_ONLY_SCORE
        for match in _CONNECTION_PASSWORD.finditer(text, start, end):
            lo, hi = match.span(match.lastgroup or 0)  # the value without its quotes or braces
            if (not looks_like_placeholder_password(text[lo:hi])
                    and _in_connection_string(text, match.start(), match.end())):
                yield lo, hi, 1.0


def _in_connection_string(text: str, key_start: int, value_end: int) -> bool:
    """Whether the ``password=`` at ``key_start`` is one field of a connection string on its line."""
    line_start = text.rfind("\n", max(0, key_start - _CONNECTION_REACH), key_start) + 1
    line_end = text.find("\n", value_end, value_end + _CONNECTION_REACH)
    before = text[max(line_start, key_start - _CONNECTION_REACH):key_start]
    after = text[value_end:value_end + _CONNECTION_REACH if line_end < 0 else line_end]
    separated = before.rstrip(" \t")[-1:] in (";", "&", "?") or after.lstrip(" \t")[:1] in (";", "&")
    return separated and bool(_CONNECTION_KEY.search(before) or _CONNECTION_KEY.search(after))


# --- Azure -----------------------------------------------------------------------------------------------------


_STORAGE_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])")
# What stands before a key given to a name that ends in "account key" or "storage (access) key", however the
# name is written (AccountKey, storageAccountKey, AZURE_STORAGE_KEY, azurestorageaccountkey, -storagekey) and
# assigned (=, :, =>, a key/value pair's comma, a brace; quoted or not, across a line break).
_STORAGE_LABEL = re.compile(r"(?i:account[_\-]?key|storage[_\-]?(?:access[_\-]?)?key)[\\\"']{0,2}[ \t]{0,8}"
                            r"(?:=>|[:=,({])?\s{0,40}[\\\"']{0,2}$")
_LABEL_REACH = 80  # characters before a key searched for its label


class AzureStorageKeyRecognizer(_SurroundedRecognizer):
    """Storage account keys: 64 random bytes in base64 (88 characters ending ``==``). Strong when given to an
    account or storage key (``AccountKey=`` in a connection string, ``storageAccountKey: …``); anywhere else
    only beside a context word (a SHA-512 digest has the same shape)."""

    # Every context word and label below matches this trigger: a part without one is never searched.
    TRIGGERS = (Trigger(r"account[_ \-]?key|storage[_ \-]?(?:access[_ \-]?)?key|storage account key|azure[_ ]storage",
                        scope=Scope.PART, caseless=True),)
    ENTITY = entities.AZURE_STORAGE_KEY
    CONTEXT = ["accountkey", "account_key", "account key", "storagekey", "storage_key", "storage key",
               "storage account key", "azure storage", "azure_storage"]

    def found(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
        for match in _STORAGE_KEY.finditer(text, start, end):
            key = match.group()
            if key in DOCUMENTATION_KEYS or looks_like_placeholder(key, min_entropy=4.5):
                continue
            labelled = _STORAGE_LABEL.search(text, max(0, match.start() - _LABEL_REACH), match.start())
            yield match.start(), match.end(), 0.9 if labelled else 0.3


# One query parameter of a URL, and a SAS signature: base64 of an HMAC-SHA256, often percent-encoded.
_PARAMETER = r"[A-Za-z][A-Za-z0-9_\-]{0,15}=[^&=;?\s\"'<>#]{0,200}"
_SAS = re.compile(rf"(?<![A-Za-z0-9_%])(?:{_PARAMETER}&){{0,15}}sig=[A-Za-z0-9%+/_\-]{{40,100}}={{0,2}}"
                  rf"(?:&{_PARAMETER}){{0,15}}")
_SAS_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class AzureSasTokenRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """Shared access signatures: a query with a signed version (``sv=2022-11-02``), an expiry or permissions
    (``se=``/``sp=``) and ``sig=``, a base64 HMAC-SHA256 (32 bytes). The whole query is the credential."""

    TRIGGERS = (Trigger(r"sig=[A-Za-z0-9%+/_\-]{40}", before=3300, after=3300),)
    PATTERNS = [Pattern("azure sas token", _SAS.pattern, 0.9)]
    CONTEXT = ["sas", "shared access signature", "sas token", "azure", "blob"]

    def __init__(self) -> None:
        super().__init__(entities.AZURE_SAS_TOKEN, name="AzureSasTokenRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool:
        fields = {key: value for key, _, value in (field.partition("=") for field in pattern_text.split("&"))}
        signature = unquote(fields.get("sig", ""))
        return (bool(_SAS_VERSION.match(unquote(fields.get("sv", ""))))
                and ("se" in fields or "sp" in fields)
                and _decoded_length(signature) == 32
                and not looks_like_placeholder(signature))


def _decoded_length(text: str) -> int:
    try:
        return len(base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True))
    except (binascii.Error, ValueError):
        return -1


# --- GCP -------------------------------------------------------------------------------------------------------

# "field": "value" in JSON (or JSON escaped in a string), field: value after Detour's own JSON extraction or in
# YAML, field = "value" in HCL.
_FIELD = r"\\?\"?[ \t]*[:=][ \t]*\\?\"?"
_KEY_ID = re.compile(rf"(?<![A-Za-z0-9_])private_key_id{_FIELD}(?P<id>[0-9a-f]{{40}})(?![0-9A-Za-z])")
_SERVICE_ACCOUNT = re.compile(rf"(?<![A-Za-z0-9_])type{_FIELD}service_account(?![A-Za-z0-9_])")
_PRIVATE_KEY = re.compile(rf"(?<![A-Za-z0-9_])private_key{_FIELD}-----BEGIN (?:RSA )?PRIVATE KEY-----")
_KEY_FILE_REACH = 4000  # characters either side of the key id searched for the rest of the key file


class GcpServiceAccountKeyRecognizer(_SurroundedRecognizer):
    """A Google Cloud service-account key file: ``"type": "service_account"``, a ``private_key_id`` and a
    ``private_key`` in PEM. Reported at the key id (the key itself is also a PRIVATE_KEY finding)."""

    TRIGGERS = (Trigger(r"private_key_id", before=1, after=70),)
    ENTITY = entities.GCP_SERVICE_ACCOUNT_KEY
    CONTEXT = ["service_account", "service account", "gcp", "google cloud", "private_key_id"]

    def found(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
        for match in _KEY_ID.finditer(text, start, end):
            lo, hi = max(0, match.start() - _KEY_FILE_REACH), match.end() + _KEY_FILE_REACH
            if (_SERVICE_ACCOUNT.search(text, lo, hi) and _PRIVATE_KEY.search(text, lo, hi)
                    and not looks_like_placeholder(match.group("id"))):
                yield match.start("id"), match.end("id"), 1.0


# --- Twilio ----------------------------------------------------------------------------------------------------

_TWILIO_SID = re.compile(r"(?<![A-Za-z0-9])(?P<kind>AC|SK)[0-9a-f]{32}(?![A-Za-z0-9])")
_TWILIO_SECRET = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SECRET_LABEL = re.compile(r"(?i)(?:auth[_ \-]?token|token|secret|password|passwd|pwd)[\"']?[ \t]*[:=]?[ \t]*[\"']?$")
_TWILIO_REACH = 300  # characters either side of a SID searched for its secret


class TwilioApiKeyRecognizer(_SurroundedRecognizer):
    """A Twilio secret beside its SID: an API key's secret (32 characters) near its ``SK…`` SID, or an
    account's auth token (32 hex) near its ``AC…`` SID, labelled as a token/secret or written ``SID:secret``.

    A SID alone is an identifier, not a secret: it is never reported.
    """

    TRIGGERS = (Trigger(r"(?:AC|SK)[0-9a-f]{32}", before=_TWILIO_REACH, after=_TWILIO_REACH),)
    ENTITY = entities.TWILIO_API_KEY
    CONTEXT = ["twilio", "auth token", "api secret", "auth_token"]

    def found(self, text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
        for sid in _TWILIO_SID.finditer(text, start, end):
            lo, hi = max(0, sid.start() - _TWILIO_REACH), sid.end() + _TWILIO_REACH
            for secret in _TWILIO_SECRET.finditer(text, lo, hi):
                value = secret.group()
                if sid.group("kind") == "AC" and not _HEX32.match(value):
                    continue  # an auth token is hex
                paired = text[sid.end():secret.start()] == ":"  # SID:secret, as in HTTP basic auth
                labelled = _SECRET_LABEL.search(text, max(0, secret.start() - 40), secret.start()) is not None
                if (paired or labelled) and not looks_like_placeholder(value):
                    yield secret.start(), secret.end(), 1.0
