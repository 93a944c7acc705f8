"""IBANs of every country in the SWIFT registry, in the layouts people write them; near misses are nothing."""

from __future__ import annotations

import random
import re

import pytest
from stdnum import iban

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.recognizers.checksums import IBAN_BBAN, IBAN_LENGTHS
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))
CHARS = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}


def make_iban(country: str, seed: int = 0) -> str:
    """A valid IBAN of ``country``: a random BBAN of the registry's structure, with its check digits."""
    rng = random.Random(f"{country}{seed}")
    bban = "".join(rng.choice(CHARS[kind]) for count, kind in re.findall(r"(\d+)!([nac])", IBAN_BBAN[country])
                   for _ in range(int(count)))
    return country + iban.calc_check_digits(country + "00" + bban) + bban


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[:0] + f.masked) for f in SCANNER.scan_part(Part(text, "t", Layout.PROSE), 0)]


def entities_in(text: str) -> list[str]:
    return [f.entity for f in SCANNER.scan_part(Part(text, "t", Layout.PROSE), 0)]


def grouped(value: str, separator: str = " ") -> str:
    return separator.join(value[i:i + 4] for i in range(0, len(value), 4))


def test_the_registry_has_every_country() -> None:
    assert len(IBAN_LENGTHS) >= 89 and IBAN_LENGTHS["NL"] == 18 and IBAN_LENGTHS["BR"] == 29
    assert {"BR", "QA", "EG", "SC", "LC", "RU", "KZ", "PK", "MU", "SV"} <= set(IBAN_LENGTHS)


@pytest.mark.parametrize("country", sorted(IBAN_BBAN))
def test_an_iban_of_every_country_is_found_as_people_write_it(country: str) -> None:
    value = make_iban(country)
    layouts = [value, grouped(value), f"{value[:2]} {value[2:4]} {grouped(value[4:])}", grouped(value, "-"),
               grouped(value, "."), value.lower(), grouped(value).lower()]
    for written in layouts:
        assert entities_in(f"Please pay to {written} by Friday.") == [E.IBAN_CODE], written


@pytest.mark.parametrize("written", ["NL91 ABNA 0417 1643 00", "FR76 3000 6000 0112 3456 7890 189",
                                     "BE68 5390 0754 7034", "NO93 8601 1117 947", "CH93 0076 2011 6238 5295 7",
                                     "GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00"])
def test_national_groupings(written: str) -> None:
    assert entities_in(f"IBAN: {written}, BIC: ABNANL2A") == [E.IBAN_CODE]


def test_the_same_account_written_differently_counts_once() -> None:
    text = "NL91ABNA0417164300; nl91 abna 0417 1643 00; NL91-ABNA-0417-1643-00"
    digests = {f.digest for f in SCANNER.scan_part(Part(text, "t", Layout.PROSE), 0)}
    assert len(digests) == 1


@pytest.mark.parametrize("near_miss", [
    "NL91 ABNA 0417 1643 01",  # a digit wrong: mod-97 fails
    "NL91 ABNA 0417 1643 0",  # a digit missing
    "DE89 3704 0044 0532 0130 01",
    "FR76 3000 6000 0112 3456 7890 18",
])
def test_a_mistyped_iban_is_nothing_not_a_phone_or_card(near_miss: str) -> None:
    assert entities_in(f"Please pay to {near_miss} by Friday.") == []


@pytest.mark.parametrize("text", [
    "NL91ABNA041716430X",  # a letter where the Dutch BBAN has digits
    "XX91ABNA0417164300",  # no such country
    "ID:NL91ABNA0417164300ZZ",  # glued to more letters
    "meet at 10 on the 2nd floor, by 2026-03-01",
    "the NL 12 team plays DE 34 today",
])
def test_what_only_looks_like_an_iban_is_not_one(text: str) -> None:
    assert E.IBAN_CODE not in entities_in(text)


def test_a_phone_after_a_mistyped_iban_is_still_a_phone() -> None:
    assert entities_in("NL91 ABNA 0417 1643 01, call +46 70 123 45 67") == [E.PHONE_NUMBER]


# python-stdnum's IBAN registry samples "found online": a first group shorter than four after the check digits.
SHORT_FIRST_GROUP = ["NO 21 650 405 251 19", "NO 0571 3905 25162", "MK072 5012 0000 0589 84",
                     "TL 38 008 00123456789101 57", "NO 19 4920 06 96270"]


@pytest.mark.parametrize("written", SHORT_FIRST_GROUP, ids=[f"{w[:2]}-{i}" for i, w in enumerate(SHORT_FIRST_GROUP)])
def test_a_short_first_group_is_still_an_iban(written: str) -> None:
    assert entities_in(f"Please pay to {written} by Friday.") == [E.IBAN_CODE]
    assert entities_in(f"iban: {written.lower()}") == [E.IBAN_CODE]


def test_a_short_first_group_that_fails_mod97_is_nothing() -> None:
    assert entities_in("Please pay to NO 21 650 405 251 18 by Friday.") == []
