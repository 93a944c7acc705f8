"""Recognizers for credentials: private keys and cloud/SaaS access tokens.

Token formats are matched case-sensitively as whole tokens. Documentation
examples (``AKIAIOSFODNN7EXAMPLE``) and placeholders (``YOUR_API_KEY_HERE``,
``xoxb-your-token``, runs of ``x``) are not secrets: they are dropped, so a
README or a config template does not block an upload.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from detectors import entities
from detectors.prefilter import Scope, Trigger
from detectors.recognizers.base import DetourRecognizer
from detectors.recognizers.checksums import shannon_entropy

CASE_SENSITIVE = regex.MULTILINE
PLACEHOLDER_WORDS = ("example", "your", "xxxx", "replace", "changeme", "change_me", "dummy", "sample", "placeholder",
                     "insert", "here", "token", "redacted", "secret", "test", "fake", "<", ">", "...")
DOCUMENTATION_KEYS = frozenset({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})


def looks_like_placeholder(secret: str, min_entropy: float = 3.0) -> bool:
    lowered = secret.lower()
    return (
        secret in DOCUMENTATION_KEYS
        or any(word in lowered for word in PLACEHOLDER_WORDS)
        or shannon_entropy(secret) < min_entropy
    )


class _TokenRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """A token format: strong when the random part does not look like a placeholder."""

    ENTITY = ""
    PATTERNS: list[Pattern] = []
    CONTEXT: list[str] = []
    PREFIX = regex.compile(r"^$")  # the non-random prefix, stripped before the placeholder check

    def __init__(self) -> None:
        super().__init__(self.ENTITY, name=type(self).__name__, patterns=self.PATTERNS, context=self.CONTEXT,
                         global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool:
        return not looks_like_placeholder(self.PREFIX.sub("", pattern_text))


class PrivateKeyRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    TRIGGERS = (Trigger(r"-----BEGIN [A-Z ]{0,16}PRIVATE KEY", after=5400),)
    PATTERNS = [
        Pattern(
            "pem private key",
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
            # line breaks are real or JSON/.env-escaped ("\\n"); PEM/PGP headers ("Proc-Type: ...")
            r"(?:\r?\n|\\r\\n|\\n|[ \t]{1,8})(?:[A-Za-z\-]{1,32}: [^\r\n\\]{1,200}(?:\r?\n|\\r\\n|\\n)){0,4}+"
            r"(?:[ \t]|\r?\n|\\r\\n|\\n){0,8}+[A-Za-z0-9+/]{32,4096}+",
            0.9,
        )
    ]
    CONTEXT = ["private key", "key", "ssh", "pem"]

    def __init__(self) -> None:
        super().__init__(entities.PRIVATE_KEY, name="PrivateKeyRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, global_regex_flags=CASE_SENSITIVE)

    def validate_result(self, pattern_text: str) -> bool:
        body = regex.split(r"\s|\\n", pattern_text)[-1]
        return not looks_like_placeholder(body, min_entropy=3.5)


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


class GithubTokenRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_", before=1, after=100),)
    ENTITY = entities.GITHUB_TOKEN
    PATTERNS = [
        Pattern("github token", r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", 0.9),
        Pattern("github fine-grained token", r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"
                                             r"(?![A-Za-z0-9_])", 0.9),
    ]
    CONTEXT = ["github", "token", "gh_token", "github_token"]
    PREFIX = regex.compile(r"^(?:gh[pousr]_|github_pat_)")


class SlackTokenRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"xox[baprse]-|hooks\.slack\.com/services/", before=10, after=140),)
    ENTITY = entities.SLACK_TOKEN
    PATTERNS = [
        Pattern("slack token", r"(?<![A-Za-z0-9])xox[baprse]-(?:[0-9]+-){1,3}[A-Za-z0-9]{8,64}(?![A-Za-z0-9\-])", 0.9),
        Pattern("slack webhook", r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{16,32}",
                0.9),
    ]
    CONTEXT = ["slack", "token", "webhook"]
    PREFIX = regex.compile(r"^(?:xox[baprse]-|https://hooks\.slack\.com/services/)")


class GoogleApiKeyRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"AIza[0-9A-Za-z_\-]{35}", before=1, after=1),)
    ENTITY = entities.GOOGLE_API_KEY
    PATTERNS = [Pattern("google api key", r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])", 0.9)]
    CONTEXT = ["google", "api key", "api_key", "gcp", "firebase"]
    PREFIX = regex.compile(r"^AIza")


class StripeSecretKeyRecognizer(_TokenRecognizer):
    TRIGGERS = (Trigger(r"[sr]k_live_", before=1, after=110),)
    ENTITY = entities.STRIPE_SECRET_KEY
    PATTERNS = [Pattern("stripe live key", r"(?<![A-Za-z0-9_])(?:sk|rk)_live_[0-9A-Za-z]{24,99}(?![A-Za-z0-9_])", 0.9)]
    CONTEXT = ["stripe", "secret key", "api key"]
    PREFIX = regex.compile(r"^(?:sk|rk)_live_")
