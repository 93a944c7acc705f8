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
