"""Masking and normalising matched values: the only two things done with a raw value.

``mask`` keeps just enough to recognise a value (a last group, a token's type
prefix) and never enough to reconstruct it. ``normalize`` is what gets hashed,
so the same value written differently counts once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from detectors import entities
from detectors.recognizers.checksums import digits

NATIONAL_IDS = frozenset({entities.US_SSN, entities.SE_PERSONNUMMER, entities.NL_BSN, entities.UK_NINO})
# The non-random prefixes of token formats: a mask keeps one of these (the longest that fits) and the length.
SECRET_PREFIXES = (
    "sk_live_", "rk_live_", "sk_test_", "rk_test_", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-",
    "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glimt-", "glagent-", "gloas-", "glsoat-", "glffct-", "GR1348941",
    "ATBB", "ATCTT3xFfGF0", "ATATT3xFfGF0", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-",
    "xoxe.xoxp-", "xoxe.xoxb-", "xapp-", "https://hooks.slack.com/services/", "https://hooks.slack.com/workflows/",
    "https://hooks.slack.com/triggers/", "https://discord.com/api/webhooks/", "https://discordapp.com/api/webhooks/",
    "AKIA", "ASIA", "ABIA", "ACCA", "AIza", "sq0atp-", "sq0csp-", "EAAA", "access_token$production$",
    "access_token$sandbox$", "SG.", "key-", "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-",
    "sk-ant-admin01-", "sk-ant-oat01-", "sk-ant-ort01-", "npm_", "pypi-", "eyJ",
)
_LONGEST_FIRST = sorted(SECRET_PREFIXES, key=len, reverse=True)
_DIGIT = re.compile(r"\d")
_ALNUM = re.compile(r"[^\W_]")
_COMPACT = re.compile(r"[\s.\-]")  # how IBANs and NINOs are written in groups
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension|#)\s*\d+\s*$", re.IGNORECASE)
_COUNTRY = re.compile(r"(?:\+|00)\d{1,3}(?=[\s.\-(/])")  # +46 70…, 0031-20…: the country code, written apart


def normalize(entity: str, raw: str) -> str:
    value = raw.strip()
    if entity in (entities.EMAIL_ADDRESS, entities.SENSITIVITY_LABEL):
        return value.lower()
    if entity in (entities.STREET_ADDRESS, entities.PERSON):
        return " ".join(value.lower().split())
    if entity == entities.PHONE_NUMBER:
        core = value.lower().split("x")[0].split("ext")[0].replace("(0)", "")
        number = digits(core)
        return "+" + number[2:] if core.startswith("00") else ("+" + number if core.startswith("+") else number)
    if entity == entities.SE_PERSONNUMMER:
        number = digits(value)
        return number[-10:]
    if entity in (entities.CREDIT_CARD, entities.US_SSN, entities.NL_BSN):
        return digits(value).zfill(9) if entity == entities.NL_BSN else digits(value)
    if entity in (entities.IBAN_CODE, entities.UK_NINO):
        return _COMPACT.sub("", value).upper()
    return value


def mask(entity: str, raw: str) -> str:
    value = raw.strip()
    if entity == entities.EMAIL_ADDRESS:
        local, _, domain = value.rpartition("@")
        labels = domain.split(".")
        masked_domain = ".".join([_star_after(label, 1) for label in labels[:-1]] + [labels[-1]])
        return f"{_star_after(local, 1)}@{masked_domain}"
    if entity == entities.CREDIT_CARD:
        return _keep_last(value, 4, str.isdigit)
    if entity == entities.PHONE_NUMBER:
        return _phone(value)
    if entity in NATIONAL_IDS:
        return _keep_last(value, 2, str.isalnum)
    if entity == entities.IBAN_CODE:
        compact = _COMPACT.sub("", value).upper()
        return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    if entity == entities.STREET_ADDRESS:
        return _star_after(value, 1)
    if entity == entities.PERSON:
        return " ".join(_star_after(word, 1) for word in value.split()[:3])
    if entity == entities.SENSITIVITY_LABEL:
        return value  # a label name is not itself sensitive, and staff need to see it
    if entity == entities.PRIVATE_KEY:
        if value.startswith("PuTTY-User-Key-File-"):
            return f"{value.split(':', 1)[0]}: … ({len(value)} chars)"
        header = value.split("-----", 2)[1] if value.count("-----") >= 2 else "PRIVATE KEY"
        return f"-----{header}----- … ({len(value)} chars)"
    if entity == entities.PASSWORD:
        return f"[password, {len(value)} chars]"  # no part of a password is a format's
    if entity in entities.CREDENTIAL_ENTITIES:
        prefix = next((p for p in _LONGEST_FIRST if value.startswith(p)), "")
        return f"{prefix}… ({len(value)} chars)"
    return f"[redacted {len(value)} chars]"


def _phone(value: str) -> str:
    """The number's shape, its country code when written apart (+46 …, 0031 …) and its last two digits; an
    extension is only said to be there: "+46 ** *** ** 67", "(***) ***-**67 ext."."""
    number, extension = value, ""
    found = _EXTENSION.search(value)
    if found is not None and digits(value[: found.start()]):
        number, extension = value[: found.start()].rstrip(), " ext."
    country = _COUNTRY.match(number)
    head = country.group(0) if country is not None else ""
    return head + _keep_last(number[len(head):], 2, str.isdigit) + extension


def _star_after(text: str, keep: int) -> str:
    return text[:keep] + "***"  # a fixed run: the mask does not tell the length either


def _keep_last(value: str, keep: int, counts: Callable[[str], bool]) -> str:
    """Star every character ``counts`` accepts except the last ``keep`` of them; keep separators."""
    cut, kept = len(value), 0
    while cut > 0 and kept < keep:  # the last ``keep`` counted characters stay
        cut -= 1
        kept += counts(value[cut])
    starred = _DIGIT if counts is str.isdigit else _ALNUM
    return starred.sub("*", value[:cut]) + value[cut:]
