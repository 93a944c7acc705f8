"""Check digits and plausibility checks for identifiers: Luhn, mod-97, 11-check, dates, entropy."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

# IBAN length per country (SEPA countries and a few common others).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22, "AE": 23,
    "SA": 24, "TR": 26, "IL": 23, "UA": 29, "RS": 22, "ME": 22, "MK": 19, "BA": 20, "AL": 28, "XK": 20,
}


def digits(text: str) -> str:
    return "".join(filter(str.isdigit, text))


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not number:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact) or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def bsn_valid(number: str) -> bool:
    """Dutch burgerservicenummer: 9 digits (8 are left-padded), weights 9..2 and -1, sum % 11 == 0."""
    if not number.isdigit() or len(number) not in (8, 9):
        return False
    number = number.zfill(9)
    if number == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(number[:8], range(9, 1, -1), strict=True)) - int(number[8])
    return total % 11 == 0


def personnummer_valid(number: str) -> bool:
    """Swedish personnummer/samordningsnummer as 10 digits YYMMDDNNNC (or 12 with century)."""
    if len(number) == 12:
        if number[:2] not in ("18", "19", "20"):
            return False
        century, number = number[:2], number[2:]
    elif len(number) == 10:
        century = None
    else:
        return False
    if not number.isdigit():
        return False
    year, month, day = int(number[:2]), int(number[2:4]), int(number[4:6])
    if day > 60:  # samordningsnummer
        day -= 60
    full_year = int(century) * 100 + year if century else 2000 + year
    try:
        date(full_year, month, day)
    except ValueError:
        if not (month == 2 and day == 29):  # leap day in the other century
            return False
    return luhn_valid(number)


def ean13_valid(number: str) -> bool:
    if len(number) != 13 or not number.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(number[:12]))
    return (10 - total % 10) % 10 == int(number[12])


def isbn10_valid(number: str) -> bool:
    """ISBN-10 (digits only, no X check digit): weights 10..1, sum % 11 == 0."""
    if len(number) != 10 or not number.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(number, range(10, 0, -1), strict=True)) % 11 == 0


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())
