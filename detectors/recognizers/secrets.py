"""Recognizers for credentials known by their own shape: private keys and cloud, code, chat, payment and SaaS tokens.

Token formats are matched case-sensitively as whole tokens, and checked as far
as their format allows: a checksum (GitHub's and npm's CRC32), a structure
(Slack's numbered segments, a PyPI macaroon, a JWT whose header is JSON naming
its algorithm) or at least the randomness of their secret part. Documentation
examples (``AKIAIOSFODNN7EXAMPLE``, Stripe's ``sk_test_4eC39HqLyjWDarjtT1zdp7dc``)
and placeholders (``YOUR_API_KEY_HERE``, ``xoxb-your-token``, runs of ``x``) are
not secrets: they are dropped, so a README or a config template does not block
an upload. Credentials known by their surroundings (passwords in URLs, connection
strings, key files) are in ``detectors.recognizers.credentials``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import string
import zlib

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from detectors import entities
from detectors.prefilter import Scope, Trigger
from detectors.recognizers.base import DetourRecognizer
from detectors.recognizers.checksums import shannon_entropy

CASE_SENSITIVE = regex.MULTILINE
PLACEHOLDER_WORDS = ("example", "your", "xxxx", "replace", "changeme", "change_me", "dummy", "sample", "placeholder",
                     "insert", "here", "token", "redacted", "secret", "test", "fake", "<", ">", "...")
# Published in providers' documentation and SDKs: everybody has them, so they unlock nothing.
DOCUMENTATION_KEYS = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe's API reference
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",  # Stripe's older API reference
    "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",  # Mailgun's API reference
    # Azurite's (the Azure storage emulator's) well-known account key
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
})
# The signatures of jwt.io's example token (reused in countless tutorials with other payloads) and PyJWT's.
DOCUMENTATION_JWT_SIGNATURES = frozenset({"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                                          "4twFt5NiznN84AWoo1d7KO1T_yoc0Z6XOpOVswacPZg"})
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Placeholder words are looked for at the ends of a long secret only: a person writes "…-your-token-here" at
# its start or end, while a thousand random characters hold a "test" or a "here" by chance every few hundred keys.
WORD_SPAN = 64
# A run this long of consecutive characters ("abcdefgh", "12345678", "KLMNOPQR") is typed by a person: in random
# base62 one starts at a given place once in 62^7 (3 * 10^12).
SEQUENCE_RUN = 8


def looks_like_placeholder(secret: str, min_entropy: float = 3.0) -> bool:
    ends = secret if len(secret) <= 2 * WORD_SPAN else f"{secret[:WORD_SPAN]} {secret[-WORD_SPAN:]}"
    lowered = ends.lower()
    return (
        secret in DOCUMENTATION_KEYS
        or any(word in lowered for word in PLACEHOLDER_WORDS)
        or has_sequence(ends)
        or shannon_entropy(secret) < min_entropy
    )


def has_sequence(text: str, run: int = SEQUENCE_RUN) -> bool:
    """Whether ``text`` holds ``run`` consecutive letters or digits in alphabetical order ("abcdefgh")."""
    length = 1
    for previous, current in zip(text, text[1:], strict=False):
        length = length + 1 if ord(current) == ord(previous) + 1 and current.isalnum() and previous.isalnum() else 1
        if length >= run:
            return True
    return False


def base62_crc32_valid(body: str) -> bool:
    """GitHub's and npm's token checksum: the last 6 characters are the CRC32 of the characters before them
    (the token without its prefix), in base62 (0-9A-Za-z), zero-padded."""
    value = zlib.crc32(body[:-6].encode("ascii", "replace"))
    encoded = []
    for _ in range(6):
        value, digit = divmod(value, 62)
        encoded.append(BASE62[digit])
    return "".join(reversed(encoded)) == body[-6:]


def base64url_decoded(text: str) -> bytes | None:
    """``text`` decoded as unpadded base64url (JWT parts, macaroons), or None when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class _TokenRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """A token format: strong when the random part does not look like a placeholder and passes the format's
    own check (``valid``)."""

    ENTITY = ""
    PATTERNS: list[Pattern] = []
    CONTEXT: list[str] = []
    PREFIX = regex.compile(r"^$")  # the non-random prefix, stripped before the placeholder check
    MIN_ENTROPY = 3.0  # bits per character of the random part

    def __init__(self) -> None:
        super().__init__(self.ENTITY, name=type(self).__name__, patterns=self.PATTERNS, context=self.CONTEXT,
                         global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool | None:
        return (pattern_text not in DOCUMENTATION_KEYS
                and not looks_like_placeholder(self.PREFIX.sub("", pattern_text), self.MIN_ENTROPY)
                and self.valid(pattern_text))

    def valid(self, token: str) -> bool:
        """The format's own check (a checksum, a structure); the pattern alone by default."""
        return True


# --- private keys --------------------------------------------------------------------------------------------

_BREAK = r"(?:\r?\n|\\r\\n|\\n)"  # a real line break, or one escaped in JSON or a .env file


class PrivateKeyRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """PEM (PKCS#1/#8, EC, DSA, encrypted), OpenSSH and PGP private key blocks, and PuTTY key files."""

    TRIGGERS = (Trigger(r"-----BEGIN [A-Z ]{0,16}PRIVATE KEY", after=5400),
                # a PuTTY file: header lines, public lines, then at most 64 private lines of 64 characters
                Trigger(r"PuTTY-User-Key-File-[23]: ", after=20_000))
    PATTERNS = [
        Pattern(
            "pem private key",
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
            # line breaks are real or JSON/.env-escaped ("\\n"); PEM/PGP headers ("Proc-Type: ...")
            r"(?:\r?\n|\\r\\n|\\n|[ \t]{1,8})(?:[A-Za-z\-]{1,32}: [^\r\n\\]{1,200}(?:\r?\n|\\r\\n|\\n)){0,4}+"
            r"(?:[ \t]|\r?\n|\\r\\n|\\n){0,8}+[A-Za-z0-9+/]{32,4096}+",
            0.9,
        ),
        Pattern(
            "putty private key",
            rf"PuTTY-User-Key-File-[23]: [^\r\n\\]{{1,64}}(?:{_BREAK}[^\r\n\\]{{0,256}}){{1,40}}?"
            rf"{_BREAK}Private-Lines: [0-9]{{1,2}}(?:{_BREAK}[A-Za-z0-9+/=]{{1,128}}(?![^\r\n\\])){{1,64}}+",
            0.9,
        ),
    ]
    CONTEXT = ["private key", "key", "ssh", "pem", "putty", "pgp"]

    def __init__(self) -> None:
        super().__init__(entities.PRIVATE_KEY, name="PrivateKeyRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool:
        if pattern_text.startswith("PuTTY"):  # the private lines, joined
            body = "".join(regex.split(r"\r?\n|\\r\\n|\\n", pattern_text.split("Private-Lines: ", 1)[1])[1:])
        else:
            body = regex.split(r"\s|\\n", pattern_text)[-1]
        return not looks_like_placeholder(body, min_entropy=3.5)


# --- cloud -----------------------------------------------------------------------------------------------------


class AwsAccessKeyRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"A[SBKC][IC]A[A-Z2-7]{16}", before=1, after=1),)
    ENTITY = entities.AWS_ACCESS_KEY
    PATTERNS = [Pattern("aws access key id", r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])",
                        0.9)]
    CONTEXT = ["aws", "access key", "aws_access_key_id", "key id"]
    PREFIX = regex.compile(r"^(?:AKIA|ASIA|ABIA|ACCA)")

    def validate_result(self, pattern_text: str) -> bool:
        return "EXAMPLE" not in pattern_text and not looks_like_placeholder(self.PREFIX.sub("", pattern_text), 2.5)


class AwsSecretKeyRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """40 characters of base64: only with a context word (a git SHA or a hash is no AWS secret)."""

    # No result stands on its own: the whole part is scanned only when it holds a context word.
    TRIGGERS = (Trigger(r"aws_?secret|secret_?access_?key|secret access key|aws secret", scope=Scope.PART,
                        caseless=True),)

    PATTERNS = [Pattern("aws secret key", r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", 0.3)]
    CONTEXT = ["aws_secret_access_key", "secret access key", "aws secret", "secretaccesskey", "aws_secret"]

    def __init__(self) -> None:
        super().__init__(entities.AWS_SECRET_KEY, name="AwsSecretKeyRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool | None:
        mixed = any(c.islower() for c in pattern_text) and any(c.isupper() for c in pattern_text)
        if not mixed or looks_like_placeholder(pattern_text, min_entropy=3.5):
            return False
        return None


# An STS session token is a base64 protobuf whose first bytes name its issuer: "\x17\n\x06er/aws" (FwoGZXIvYXdz…),
# "!\n\torigin_ec" (IQoJb3JpZ2luX2Vj…), "\x01\n\x03aws" (AQoDYXdz…); the first byte varies, so the first two
# characters do too. In presigned URLs (X-Amz-Security-Token=) it is percent-encoded.
_STS_MARKERS = r"(?:oJb3JpZ2luX2Vj|oGZXIvYXdz|oDYXdz)"


class AwsSessionTokenRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(_STS_MARKERS, before=3, after=4100),)
    ENTITY = entities.AWS_SESSION_TOKEN
    PATTERNS = [Pattern("aws session token",
                        rf"(?<![A-Za-z0-9+/%])[A-Za-z0-9+/]{{2}}{_STS_MARKERS}(?:[A-Za-z0-9+/]|%2[BbFf]){{100,4000}}"
                        r"(?:=|%3[Dd]){0,2}(?![A-Za-z0-9+/=])", 0.9)]
    CONTEXT = ["aws", "session token", "aws_session_token", "security token", "x-amz-security-token"]
    MIN_ENTROPY = 4.5  # hundreds of random base64 characters


class AzureClientSecretRecognizer(_TokenRecognizer):
    """Entra ID (Azure AD) application client secrets: 3 characters, a digit and ``Q~`` (the format's version),
    then 31 to 34 more."""

    TRIGGERS = (Trigger(r"[0-9]Q~", before=4, after=35),)
    ENTITY = entities.AZURE_CLIENT_SECRET
    PATTERNS = [Pattern("entra client secret",
                        r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~\-])",
                        0.9)]
    CONTEXT = ["client secret", "client_secret", "clientsecret", "azure", "entra", "aad"]
    PREFIX = regex.compile(r"^.{3}[0-9]Q~")


class GoogleApiKeyRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"AIza[0-9A-Za-z_\-]{35}", before=1, after=1),)
    ENTITY = entities.GOOGLE_API_KEY
    PATTERNS = [Pattern("google api key", r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["google", "api key", "api_key", "gcp", "firebase"]
    PREFIX = regex.compile(r"^AIza")


# --- code hosting ----------------------------------------------------------------------------------------------


class GithubTokenRecognizer(_TokenRecognizer):
    """Classic, OAuth, app and refresh tokens (``gh?_`` + 30 random + a 6-character CRC32) and fine-grained PATs."""

    TRIGGERS = (Trigger(r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_", before=1, after=100),)
    ENTITY = entities.GITHUB_TOKEN
    PATTERNS = [
        Pattern("github token", r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", 0.9),
        Pattern("github fine-grained token", r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"
                                             r"(?![A-Za-z0-9_])", 0.9),
    ]
    CONTEXT = ["github", "token", "gh_token", "github_token"]
    PREFIX = regex.compile(r"^(?:gh[pousr]_|github_pat_)")

    def valid(self, token: str) -> bool:
        return token.startswith("github_pat_") or base62_crc32_valid(token[4:])


_GITLAB_KINDS = "pat|dt|rt|ptt|cbt|ft|imt|agent|oas|soat|ffct"


class GitlabTokenRecognizer(_TokenRecognizer):
    """GitLab's prefixed tokens (personal, deploy, runner, trigger, CI job, feed, mail, agent, OAuth, SCIM,
    feature-flag), legacy and routable (``.`` + version + checksum), and runner registration tokens."""

    TRIGGERS = (Trigger(rf"gl(?:{_GITLAB_KINDS})-|GR1348941", before=1, after=320),)
    ENTITY = entities.GITLAB_TOKEN
    PATTERNS = [
        Pattern("gitlab token", rf"(?<![A-Za-z0-9_\-])gl(?:{_GITLAB_KINDS})-[0-9A-Za-z_\-]{{20,300}}"
                                r"(?:\.[0-9a-z]{9})?(?![A-Za-z0-9_\-])", 0.9),
        Pattern("gitlab runner registration token", r"(?<![A-Za-z0-9_\-])GR1348941[0-9A-Za-z_\-]{20}"
                                                    r"(?![A-Za-z0-9_\-])", 0.9),
    ]
    CONTEXT = ["gitlab", "token", "gitlab_token", "private-token"]
    PREFIX = regex.compile(rf"^(?:gl(?:{_GITLAB_KINDS})-|GR1348941)")


class BitbucketTokenRecognizer(_TokenRecognizer):
    """App passwords (``ATBB``) and repository/workspace access tokens (``ATCTT3xFfGF0`` … ``=`` + 8 hex)."""

    TRIGGERS = (Trigger(r"ATBB[A-Za-z0-9]{32}|ATCTT3xFfGF0", before=1, after=320),)
    ENTITY = entities.BITBUCKET_TOKEN
    PATTERNS = [
        Pattern("bitbucket app password", r"(?<![A-Za-z0-9_\-])ATBB[A-Za-z0-9]{32}(?![A-Za-z0-9_\-])", 0.9),
        Pattern("bitbucket access token", r"(?<![A-Za-z0-9_\-])ATCTT3xFfGF0[A-Za-z0-9_\-]{20,300}=[0-9A-F]{8}"
                                          r"(?![A-Za-z0-9_\-=])", 0.9),
    ]
    CONTEXT = ["bitbucket", "app password", "access token"]
    PREFIX = regex.compile(r"^(?:ATBB|ATCTT3xFfGF0)")


class AtlassianApiTokenRecognizer(_TokenRecognizer):
    """Atlassian account API tokens (Jira, Confluence): ``ATATT3xFfGF0`` … ``=`` + 8 hex."""

    TRIGGERS = (Trigger(r"ATATT3xFfGF0", before=1, after=320),)
    ENTITY = entities.ATLASSIAN_API_TOKEN
    PATTERNS = [Pattern("atlassian api token", r"(?<![A-Za-z0-9_\-])ATATT3xFfGF0[A-Za-z0-9_\-]{20,300}=[0-9A-F]{8}"
                                               r"(?![A-Za-z0-9_\-=])", 0.9)]
    CONTEXT = ["atlassian", "jira", "confluence", "api token"]
    PREFIX = regex.compile(r"^ATATT3xFfGF0")


# --- chat ------------------------------------------------------------------------------------------------------


class SlackTokenRecognizer(_TokenRecognizer):
    """Every Slack token kind and incoming webhook.

    Tokens: bot (``xoxb-``), user (``xoxp-``), workspace/app (``xoxa-``), refresh (``xoxr-``), legacy (``xoxs-``,
    ``xoxo-``), rotating (``xoxe.xoxp-1-…``, ``xoxe.xoxb-1-…``), configuration refresh (``xoxe-1-…``) and
    app-level (``xapp-1-A…-…-…``): a kind, numbered segments, then a random part. Webhooks: ``services/T…/B…/…``,
    ``workflows/T…/A…/<digits>/…`` and ``triggers/T…/<digits>/<32 hex>`` on ``hooks.slack.com``.
    """

    TRIGGERS = (Trigger(r"(?:xoxe\.)?xox[abeoprs]-|xapp-[0-9]-", before=1, after=300),
                Trigger(r"hooks\.slack\.com/(?:services|workflows|triggers)/", before=8, after=140))
    ENTITY = entities.SLACK_TOKEN
    PATTERNS = [
        Pattern("slack token", r"(?<![A-Za-z0-9.])(?:xoxe\.)?xox[abeoprs]-(?:[0-9]{1,20}-){0,4}[A-Za-z0-9]{8,200}"
                               r"(?![A-Za-z0-9\-])", 0.9),
        Pattern("slack app-level token", r"(?<![A-Za-z0-9])xapp-[0-9]-[A-Z0-9]{6,16}-[0-9]{6,20}-[0-9A-Za-z]{32,128}"
                                         r"(?![A-Za-z0-9\-])", 0.9),
        Pattern("slack webhook", r"(?<![A-Za-z0-9.\-])(?:https?://)?hooks\.slack\.com/(?:"
                                 r"services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{16,32}"
                                 r"|workflows/T[A-Z0-9]{6,12}/A[A-Z0-9]{6,12}/[0-9]{8,20}/[A-Za-z0-9]{16,32}"
                                 r"|triggers/T[A-Z0-9]{6,12}/[0-9]{8,20}/[0-9a-f]{32})(?![A-Za-z0-9])", 0.9),
    ]
    CONTEXT = ["slack", "token", "webhook"]
    # Numbered segments (team, user, version…) a token of each kind has at least: a bot token names its team.
    NUMBERED = {"xoxb": 1, "xoxp": 1, "xoxs": 1, "xoxo": 1, "xoxe": 1, "xoxa": 0, "xoxr": 0, "xapp": 2}

    def validate_result(self, pattern_text: str) -> bool:
        segments = regex.split(r"[-/]", pattern_text)
        kind = pattern_text.removeprefix("xoxe.")[:4]
        numbers = [segment for segment in segments[1:-1] if segment.isdigit()]
        secret = segments[-1]
        # Legacy tokens end in as few as 10 hex digits, which cannot reach the entropy of a longer random part.
        min_entropy = min(3.0, 0.8 * math.log2(len(secret)))
        return (len(numbers) >= self.NUMBERED.get(kind, 0)
                and not any(_made_up_number(number) for number in numbers)
                and not looks_like_placeholder(secret, min_entropy))


def _made_up_number(number: str) -> bool:
    """A team, user or bot number nobody was given: one digit repeated ("0000") or counted ("1234")."""
    return len(number) >= 4 and (len(set(number)) == 1 or number in "01234567890123456789")


class TeamsWebhookRecognizer(_TokenRecognizer):
    """Microsoft Teams incoming webhooks (Office 365 connectors), current and legacy hosts."""

    TRIGGERS = (Trigger(r"\.webhook\.office\.com/webhookb2/|outlook\.office(?:365)?\.com/webhook/", before=72,
                        after=260),)
    ENTITY = entities.TEAMS_WEBHOOK
    _UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    PATTERNS = [Pattern("teams webhook",
                        r"(?<![A-Za-z0-9.\-])(?:https://)?(?:[A-Za-z0-9\-]{1,63}\.webhook\.office\.com/webhookb2"
                        rf"|outlook\.office(?:365)?\.com/webhook)/{_UUID}@{_UUID}/IncomingWebhook/[0-9a-f]{{32}}/{_UUID}"
                        r"(?:/V2[A-Za-z0-9_\-]{20,100})?(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["teams", "webhook", "incoming webhook"]

    def validate_result(self, pattern_text: str) -> bool:
        secret = pattern_text.split("/IncomingWebhook/", 1)[1][:32]
        return not looks_like_placeholder(secret, 2.5)


class DiscordWebhookRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"discord(?:app)?\.com/api/(?:v[0-9]{1,2}/)?webhooks/", before=16, after=110),)
    ENTITY = entities.DISCORD_WEBHOOK
    PATTERNS = [Pattern("discord webhook", r"(?<![A-Za-z0-9.\-])(?:https?://)?(?:(?:ptb|canary)\.)?discord(?:app)?\.com"
                                           r"/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,80}"
                                           r"(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["discord", "webhook"]

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_like_placeholder(pattern_text.rsplit("/", 1)[1])


# --- payments --------------------------------------------------------------------------------------------------


class StripeSecretKeyRecognizer(_TokenRecognizer):
    """Secret and restricted keys, live and test (a test key reads and writes the account's test data).
    Publishable keys (``pk_``) are public by design."""

    TRIGGERS = (Trigger(r"[sr]k_(?:live|test)_", before=1, after=250),)
    ENTITY = entities.STRIPE_SECRET_KEY
    PATTERNS = [Pattern("stripe secret key",
                        r"(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247}(?![A-Za-z0-9_])", 0.9)]
    CONTEXT = ["stripe", "secret key", "api key"]
    PREFIX = regex.compile(r"^(?:sk|rk)_(?:live|test)_")


class SquareTokenRecognizer(_TokenRecognizer):
    """Square access tokens (``EAAA`` + 60, older ``sq0atp-``) and OAuth application secrets (``sq0csp-``)."""

    TRIGGERS = (Trigger(r"sq0(?:atp|csp)-", before=1, after=45),
                Trigger(r"EAAA[A-Za-z0-9_\-]{60}", before=1, after=1))
    ENTITY = entities.SQUARE_TOKEN
    PATTERNS = [
        Pattern("square oauth token", r"(?<![A-Za-z0-9_\-])(?:sq0atp-[0-9A-Za-z_\-]{22}|sq0csp-[0-9A-Za-z_\-]{43})"
                                      r"(?![A-Za-z0-9_\-])", 0.9),
        Pattern("square access token", r"(?<![A-Za-z0-9_\-+/])EAAA[A-Za-z0-9_\-]{60}(?![A-Za-z0-9_\-+/=])", 0.9),
    ]
    CONTEXT = ["square", "access token", "squareup"]
    PREFIX = regex.compile(r"^(?:sq0atp-|sq0csp-|EAAA)")
    MIN_ENTROPY = 3.5


class BraintreeTokenRecognizer(_TokenRecognizer):
    """PayPal Braintree access tokens: ``access_token$production$<merchant>$<32 hex>`` (and sandbox)."""

    TRIGGERS = (Trigger(r"access_token\$(?:production|sandbox)\$", before=1, after=60),)
    ENTITY = entities.BRAINTREE_TOKEN
    PATTERNS = [Pattern("braintree access token",
                        r"(?<![A-Za-z0-9_])access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}"
                        r"(?![A-Za-z0-9_])", 0.9)]
    CONTEXT = ["braintree", "paypal", "access token"]

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_like_placeholder(pattern_text.rsplit("$", 1)[1])


# --- SaaS and AI -----------------------------------------------------------------------------------------------


class SendgridApiKeyRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"SG\.[A-Za-z0-9_\-]{22}\.", before=1, after=44),)
    ENTITY = entities.SENDGRID_API_KEY
    PATTERNS = [Pattern("sendgrid api key", r"(?<![A-Za-z0-9_\-.])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"
                                            r"(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["sendgrid", "api key", "smtp"]
    PREFIX = regex.compile(r"^SG\.")


class MailgunApiKeyRecognizer(_TokenRecognizer):
    """``key-`` + 32 characters. Random over a-z and 0-9, a real key almost never has hex letters only, so an
    all-hex one (a hash with a ``key-`` label) needs the word "mailgun" nearby, as do the newer
    ``<32 hex>-<8 hex>-<8 hex>`` keys."""

    TRIGGERS = (Trigger(r"key-[0-9a-z]{32}", before=1, after=1),
                Trigger(r"mailgun", scope=Scope.PART, caseless=True))
    ENTITY = entities.MAILGUN_API_KEY
    PATTERNS = [
        Pattern("mailgun api key", r"(?<![A-Za-z0-9_\-])key-(?=[0-9a-f]{0,31}[g-z])[0-9a-z]{32}(?![A-Za-z0-9_\-])",
                0.9),
        Pattern("mailgun hex api key", r"(?<![A-Za-z0-9_\-])key-[0-9a-f]{32}(?![A-Za-z0-9_\-])", 0.3),
        Pattern("mailgun private key", r"(?<![A-Za-z0-9_\-])[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}(?![A-Za-z0-9_\-])",
                0.3),
    ]
    CONTEXT = ["mailgun"]
    PREFIX = regex.compile(r"^key-")

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if super().validate_result(pattern_text) else False


class MailchimpApiKeyRecognizer(_TokenRecognizer):
    """32 hex characters and the account's datacenter: ``…-us21``."""

    TRIGGERS = (Trigger(r"[0-9a-f]{32}-us[0-9]", before=1, after=3),)
    ENTITY = entities.MAILCHIMP_API_KEY
    PATTERNS = [Pattern("mailchimp api key", r"(?<![A-Za-z0-9_\-])[0-9a-f]{32}-us[0-9]{1,2}(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["mailchimp", "api key", "mandrill"]

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_like_placeholder(pattern_text[:32])


class OpenaiApiKeyRecognizer(_TokenRecognizer):
    """OpenAI keys, legacy (``sk-`` + 48) and project, service-account and admin (``sk-proj-``, ``sk-svcacct-``,
    ``sk-admin-``): each holds ``T3BlbkFJ`` ("OpenAI" in base64) between two random parts."""

    TRIGGERS = (Trigger(r"T3BlbkFJ", before=175, after=172),)
    ENTITY = entities.OPENAI_API_KEY
    PATTERNS = [Pattern("openai api key", r"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{20,170}T3BlbkFJ[A-Za-z0-9_\-]{20,170}"
                                          r"(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["openai", "api key", "openai_api_key", "gpt"]

    KIND = regex.compile(r"^sk-(?:proj-|svcacct-|admin-)?")

    def validate_result(self, pattern_text: str) -> bool:
        head, _, tail = pattern_text.partition("T3BlbkFJ")
        return not looks_like_placeholder(self.KIND.sub("", head) + tail)


class AnthropicApiKeyRecognizer(_TokenRecognizer):
    """API and admin keys (``sk-ant-api03-`` / ``sk-ant-admin01-`` + 93 + ``AA``) and OAuth tokens."""

    TRIGGERS = (Trigger(r"sk-ant-", before=1, after=320),)
    ENTITY = entities.ANTHROPIC_API_KEY
    PATTERNS = [Pattern("anthropic api key",
                        r"(?<![A-Za-z0-9_\-])sk-ant-(?:(?:api03|admin01)-[A-Za-z0-9_\-]{93}AA"
                        r"|o[ar]t01-[A-Za-z0-9_\-]{40,300})(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["anthropic", "claude", "api key", "anthropic_api_key"]
    PREFIX = regex.compile(r"^sk-ant-[a-z]+[0-9]{2}-")


class NpmTokenRecognizer(_TokenRecognizer):
    """npm access tokens: ``npm_`` + 30 random + a 6-character CRC32, as GitHub's."""

    TRIGGERS = (Trigger(r"npm_[A-Za-z0-9]{36}", before=1, after=1),)
    ENTITY = entities.NPM_TOKEN
    PATTERNS = [Pattern("npm token", r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", 0.9)]
    CONTEXT = ["npm", "npmrc", "_authtoken", "npm_token"]
    PREFIX = regex.compile(r"^npm_")

    def valid(self, token: str) -> bool:
        return base62_crc32_valid(token[4:])


class PypiTokenRecognizer(_TokenRecognizer):
    """PyPI (and TestPyPI) API tokens: ``pypi-`` + a base64url macaroon whose location is pypi.org."""

    TRIGGERS = (Trigger(r"pypi-AgE", before=1, after=1030),)
    ENTITY = entities.PYPI_TOKEN
    PATTERNS = [Pattern("pypi token", r"(?<![A-Za-z0-9_\-])pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)"
                                      r"[A-Za-z0-9_\-]{50,1000}(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["pypi", "twine", "pypirc", "password"]
    PREFIX = regex.compile(r"^pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)")
    MIN_ENTROPY = 4.0

    def valid(self, token: str) -> bool:
        # A version 2 macaroon: its location field first, its 32-byte signature field (type 6) last.
        macaroon = base64url_decoded(token[5:])
        return macaroon is not None and macaroon[-34:-32] == b"\x06\x20"


class JwtRecognizer(_TokenRecognizer):
    """Signed JSON Web Tokens (JWS compact form): a header that decodes to a JSON object naming its ``alg``, a
    JSON payload and a signature.

    Unsigned tokens (``"alg": "none"``, no signature) are not reported: anybody can write one, so holding
    one grants nothing that writing one would not; their payload may still be personal data, which the other
    detectors see when it is decoded elsewhere. Encrypted tokens (JWE, five parts) are not matched.
    """

    TRIGGERS = (Trigger(r"eyJ[A-Za-z0-9_\-]{10,}\.e[wy]", before=1, after=22_100),)
    ENTITY = entities.JWT
    PATTERNS = [Pattern("jwt", r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{10,2000}\.e[wy][A-Za-z0-9_\-]{0,20000}"
                               r"\.[A-Za-z0-9_\-]{16,2000}(?![A-Za-z0-9_\-])(?!\.[A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["jwt", "bearer", "token", "authorization"]

    def validate_result(self, pattern_text: str) -> bool:
        header, payload, signature = pattern_text.split(".")
        fields = _json_object(header)
        algorithm = fields.get("alg") if fields is not None else None
        return (isinstance(algorithm, str) and algorithm.lower() != "none"
                and _json_object(payload) is not None
                and signature not in DOCUMENTATION_JWT_SIGNATURES
                and not looks_like_placeholder(signature, 3.0))


def _json_object(part: str) -> dict[str, object] | None:
    decoded = base64url_decoded(part)
    if decoded is None:
        return None
    try:
        value = json.loads(decoded)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
