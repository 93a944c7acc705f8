"""Masks show just enough to recognise a value, never enough to rebuild it; normalising dedupes."""

from __future__ import annotations

import pytest

from detectors import entities as E
from detectors.masking import mask, normalize


@pytest.mark.parametrize(
    ("entity", "raw", "masked"),
    [
        (E.EMAIL_ADDRESS, "anna.berg@example.com", "a***@e***.com"),
        (E.EMAIL_ADDRESS, "j@mail.corp.co.uk", "j***@m***.c***.c***.uk"),
        (E.CREDIT_CARD, "4111 1111 1111 1111", "**** **** **** 1111"),
        (E.PHONE_NUMBER, "+46 70 123 45 67", "+46 ** *** ** 67"),  # the country code, written apart, stays
        (E.PHONE_NUMBER, "+46701234567", "+*********67"),
        (E.PHONE_NUMBER, "0031 20 123 4567", "0031 ** *** **67"),
        (E.PHONE_NUMBER, "(555)123-4567x1248", "(***)***-**67 ext."),  # the number's last digits, not the extension's
        (E.PHONE_NUMBER, "+1 (415) 555-0134 ext. 22", "+1 (***) ***-**34 ext."),
        (E.US_SSN, "891-13-2933", "***-**-**33"),
        (E.SE_PERSONNUMMER, "811218-9876", "******-**76"),
        (E.UK_NINO, "AB 12 34 56 C", "** ** ** *6 C"),
        (E.IBAN_CODE, "NL91 ABNA 0417 1643 00", "NL************4300"),
        (E.SLACK_TOKEN, "xoxb-821993518190-937865797543-YlSXpfKtHF4vUCsMehGAkWvj", "xoxb-… (55 chars)"),
        (E.AWS_ACCESS_KEY, "AKIA2OGYBAH6STMMNXNN", "AKIA… (20 chars)"),
        (E.AWS_SECRET_KEY, "9drTJvcXLB89Mfk4Lx8h2fTq0N+uVdJSxQ3kpWz2", "… (40 chars)"),
    ],
)
def test_masks(entity: str, raw: str, masked: str) -> None:
    assert mask(entity, raw) == masked


def test_private_key_mask_keeps_only_the_header() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx3Q9sZk2Yv8rJ0bH5tLwXcP1mN7qR4uT6vW8yA0zB2dF"
    assert mask(E.PRIVATE_KEY, key) == f"-----BEGIN RSA PRIVATE KEY----- … ({len(key)} chars)"


@pytest.mark.parametrize(
    ("entity", "a", "b"),
    [
        (E.EMAIL_ADDRESS, "Anna.Berg@Example.com", "anna.berg@example.com"),
        (E.PHONE_NUMBER, "0046 70 123 45 67", "+46-70-123 45 67"),
        (E.CREDIT_CARD, "4111-1111-1111-1111", "4111111111111111"),
        (E.SE_PERSONNUMMER, "19811218-9876", "811218-9876"),
        (E.IBAN_CODE, "nl91 abna 0417 1643 00", "NL91ABNA0417164300"),
    ],
)
def test_normalize_makes_spellings_of_one_value_equal(entity: str, a: str, b: str) -> None:
    assert normalize(entity, a) == normalize(entity, b)
