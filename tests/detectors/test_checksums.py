"""Check-digit algorithms behind the national ID, card and IBAN detectors."""

from __future__ import annotations

import pytest

from detectors.recognizers.checksums import (
    bsn_valid,
    ean13_valid,
    iban_valid,
    luhn_valid,
    personnummer_valid,
    shannon_entropy,
)


@pytest.mark.parametrize(("number", "valid"), [("4111111111111111", True), ("79927398713", True),
                                               ("4111111111111112", False), ("", False), ("12a4", False)])
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(("iban", "valid"), [("NL91ABNA0417164300", True), ("GB82 WEST 1234 5698 7654 32", True),
                                             ("DE89370400440532013000", True), ("NL91ABNA0417164301", False),
                                             ("NL91ABNA041716430", False), ("XX91ABNA0417164300", False)])
def test_iban_mod97_and_country_length(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(("bsn", "valid"), [("111222333", True), ("589034674", True), ("11222333", False),
                                            ("111222334", False), ("000000000", False), ("12345678X", False)])
def test_bsn_eleven_check(bsn: str, valid: bool) -> None:
    assert bsn_valid(bsn) is valid


@pytest.mark.parametrize(("number", "valid"), [("8112189876", True), ("198112189876", True), ("7109266804", True),
                                               ("8112789876", False),  # samordningsnummer day 78 → 18: Luhn differs
                                               ("8113189876", False), ("8112189875", False), ("178112189876", False)])
def test_personnummer_date_and_luhn(number: str, valid: bool) -> None:
    assert personnummer_valid(number) is valid


def test_ean13() -> None:
    assert ean13_valid("4006381333931") and not ean13_valid("4006381333932")


def test_entropy_separates_random_from_placeholders() -> None:
    assert shannon_entropy("xxxxxxxxxxxx") == 0.0
    assert shannon_entropy("YlSXpfKtHF4vUCsMehGAkWvj") > 4.0
