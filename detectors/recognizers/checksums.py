"""Check digits and plausibility checks for identifiers, from python-stdnum (a well-kept library of
number formats and their checks) rather than hand-kept tables: Luhn, IBAN (the SWIFT registry's
countries, BBAN structure, mod-97 and national checks), GTIN/EAN barcodes, ISBN, ISSN, personnummer,
BSN, SSN. Plus Shannon entropy for telling random tokens from placeholders.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from stdnum import ean, iban, isbn, issn, luhn, numdb
from stdnum.nl import bsn
from stdnum.se import personnummer
from stdnum.us import ssn

_BBAN_PART = re.compile(r"([1-9][0-9]*)!([nac])")


def _iban_formats() -> dict[str, str]:
    """Country code → BBAN structure (``4!n4!n12!c``), from python-stdnum's copy of the SWIFT IBAN registry."""
    formats = {}
    for _, country, _, properties, _ in numdb.get("iban").prefixes:
        if len(country) == 2 and "bban" in properties:
            formats[country] = properties["bban"]
    return formats


IBAN_BBAN = _iban_formats()
IBAN_LENGTHS = {country: 4 + sum(int(n) for n, _ in _BBAN_PART.findall(bban)) for country, bban in IBAN_BBAN.items()}


def digits(text: str) -> str:
    return "".join(filter(str.isdigit, text))


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn.is_valid(number)


def iban_valid(text: str) -> bool:
    """An IBAN of a registry country: its length, BBAN structure (letters and digits where the country
    has them) and mod-97. Separators (space, dash, dot) and case are ignored. python-stdnum's national
    checks are left out: some look the bank up in a list that ages, and an IBAN of a bank it does not
    know (a new one, or test data) is still an IBAN."""
    compact = iban.compact(text)
    return IBAN_LENGTHS.get(compact[:2]) == len(compact) and iban.is_valid(compact, check_country=False)


def bsn_valid(number: str) -> bool:
    """Dutch burgerservicenummer: 9 digits (8 are left-padded), the eleven-check."""
    return number.isdigit() and len(number) in (8, 9) and number.strip("0") != "" and bsn.is_valid(number.zfill(9))


def personnummer_valid(number: str) -> bool:
    """Swedish personnummer/samordningsnummer as 10 digits YYMMDDNNNC (or 12 with the century 18–20)."""
    if not number.isdigit() or len(number) not in (10, 12) or (len(number) == 12 and number[:2] not in
                                                                  ("18", "19", "20")):
        return False
    return personnummer.is_valid(number) or _leap_day_of_another_century(number)


def _leap_day_of_another_century(number: str) -> bool:
    """290229-…: a leap day in 1900 (no leap year) or 2000; without the century both are possible."""
    short = number[-10:]
    return len(number) == 10 and short[2:6] == "0229" and luhn_valid(short)


def ssn_valid(number: str) -> bool:
    """US social security number: issued area, group and serial (python-stdnum's rules)."""
    return len(number) == 9 and number.isdigit() and ssn.is_valid(number)


def ean13_valid(number: str) -> bool:
    return len(number) == 13 and number.isdigit() and ean.is_valid(number)


def gtin_valid(number: str) -> bool:
    """A GTIN barcode: EAN-8, UPC-A (12), EAN-13 or GTIN-14 with its check digit."""
    return len(number) in (8, 12, 13, 14) and number.isdigit() and ean.is_valid(number)


def isbn10_valid(number: str) -> bool:
    """ISBN-10 (digits only, no X check digit)."""
    return len(number) == 10 and number.isdigit() and isbn.is_valid(number)


def issn_valid(text: str) -> bool:
    return issn.is_valid(text)


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())
