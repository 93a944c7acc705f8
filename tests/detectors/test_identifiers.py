"""National IDs, cards and e-mail addresses in the less common forms people write them."""

from __future__ import annotations

import pytest
from stdnum import luhn

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))


def card(prefix: str, length: int) -> str:
    body = prefix + "3" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def found(text: str) -> list[str]:
    return [f.entity for f in SCANNER.scan_part(Part(text, "t", Layout.PROSE), 0)]


@pytest.mark.parametrize(("text", "expected"), [
    ("NINO: ab123456c", [E.UK_NINO]),
    ("ni number ab 12 34 56 c", [E.UK_NINO]),
    ("AB 12 34 56 C", [E.UK_NINO]),
    ("QQ 12 34 56 C", []),  # HMRC's own example: prefix never allocated
    ("the Ab123456c part", []),  # mixed case with no context: a part number
    ("personnummer 811218–9876", [E.SE_PERSONNUMMER]),  # en dash
    ("811218\u20119876", [E.SE_PERSONNUMMER]),  # non-breaking hyphen
    ("811218\u22129876", [E.SE_PERSONNUMMER]),  # minus sign
    ("19811218–9876", [E.SE_PERSONNUMMER]),
    ("19811218-9876", [E.SE_PERSONNUMMER]),
    ("198112189876", [E.SE_PERSONNUMMER]),
    ("pnr 811218 9876", [E.SE_PERSONNUMMER]),
    ("811218 9876", []),  # spaced and bare: needs a context word
    ("811218–9875", []),  # Luhn fails
    ("Mail anna@example.xn--p1ai today", [E.EMAIL_ADDRESS]),
    ("Mail anna@xn--mller-kva.de", [E.EMAIL_ADDRESS]),
])
def test_uncommon_forms(text: str, expected: list[str]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (f"UATP card {card('1', 15)}", [E.CREDIT_CARD]),
    (f"order {card('1', 15)}", []),  # fifteen digits starting with 1: an account number without a context word
    (f"paid with {card('9792', 16)}", [E.CREDIT_CARD]),  # Troy
    (f"paid with {card('8100', 16)}", [E.CREDIT_CARD]),  # UnionPay 81
    (f"paid with {card('8200', 16)}", [E.CREDIT_CARD]),  # RuPay 82
    (f"paid with {card('6360', 16)}", [E.CREDIT_CARD]),  # InterPayment
    (f"paid with {card('2200', 16)}", [E.CREDIT_CARD]),  # Mir
    (f"paid with {card('9999', 16)}", []),  # no network
])
def test_more_card_networks(text: str, expected: list[str]) -> None:
    assert found(text) == expected


# Gateways' published test cards (Adyen, Authorize.Net, Stripe): groupings and ranges people copy from them.
CARD_CASES = [
    ("Amex in fours", "Paid with card 3700 0000 0000 002", [E.CREDIT_CARD]),
    ("Amex in fours bare", "3700 0000 0100 018", [E.CREDIT_CARD]),
    ("Diners 14 in fours", "3600 6666 3333 44", [E.CREDIT_CARD]),
    ("Diners 14 in fours failing Luhn", "3600 6666 3333 45", []),
    ("UATP in fours with context", "UATP card 1354 1001 4004 955", [E.CREDIT_CARD]),
    ("UATP in fours bare", "1354 1001 4004 955", []),
    ("JCB old range", "JCB 3088000000000017", [E.CREDIT_CARD]),
    ("JCB old range bare", "3088000000000017", [E.CREDIT_CARD]),
    ("13-digit Visa with context", "my credit card: 4222222222222", [E.CREDIT_CARD]),
    ("13-digit Visa bare", "4222222222222", []),
    ("13-digit Visa that is also an EAN-13", "card 4012888818888", []),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CARD_CASES], ids=[c[0] for c in CARD_CASES])
def test_published_test_cards(text: str, expected: list[str]) -> None:
    assert found(text) == expected


NINO_AND_EMAIL_CASES = [
    ("NINO suffix outside A-D", "nino AA 12 34 56 H", []),
    ("NINO suffix outside A-D compact", "NI number AB123456E", []),
    ("NINO suffix D", "nino AA 12 34 56 D", [E.UK_NINO]),
    ("email with a non-ASCII local part", "Contact müller@example.de today", [E.EMAIL_ADDRESS]),
    ("email ending in a non-ASCII letter", "Kontakt: josé@example.com", [E.EMAIL_ADDRESS]),
    ("email with an underscore", "mail jan_de.vries@example.nl", [E.EMAIL_ADDRESS]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in NINO_AND_EMAIL_CASES],
                         ids=[c[0] for c in NINO_AND_EMAIL_CASES])
def test_nino_suffixes_and_unicode_emails(text: str, expected: list[str]) -> None:
    assert found(text) == expected
