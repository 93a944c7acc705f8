"""Tier 0: the Hyperscan pass finds every place a recognizer could match, and only those."""

from __future__ import annotations

import random

import pytest

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.limits import Limits
from detectors.prefilter import WHOLE, Prefilter, Scope, Trigger
from detectors.registry import Registry, default_recognizers
from detectors.scan import PIECE_CHARS, Scanner, ValueHasher, scan_blob

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))


def windows(trigger: Trigger, text: str) -> list[tuple[int, int]]:
    return Prefilter([[trigger]]).windows(text).get(0, [])


def test_text_without_triggers_gets_no_windows() -> None:
    assert windows(Trigger("@", before=1, after=1), "no at sign here\n" * 1000) == []


def test_windows_are_cut_around_each_trigger_and_merged_when_close() -> None:
    text = "a" * 200 + "@" + "b" * 10 + "@" + "c" * 200
    assert windows(Trigger("@", before=5, after=5), text) == [(195, 217)]
    far = "a" * 200 + "@" + "b" * 300 + "@" + "c" * 200
    assert windows(Trigger("@", before=5, after=5), far) == [(195, 206), (496, 507)]


def test_a_trigger_without_start_tracking_walks_back_over_its_span() -> None:
    digits = Trigger("[0-9]{3}(?:[^0-9]|$)", before=0, after=0, span_chars="0123456789 ")
    text = "x" * 100 + "1 2 3 456;" + "y" * 100
    [(lo, hi)] = windows(digits, text)
    assert lo == 100 and hi >= 109


def test_line_and_part_scopes() -> None:
    text = "first line\nclassification: secret\nlast line"
    assert windows(Trigger("classification", scope=Scope.LINE), text) == [(11, 33)]
    assert windows(Trigger("classification", scope=Scope.PART), text) == [WHOLE]


def test_offsets_stay_right_in_non_ascii_text() -> None:
    text = "Åsa Öberg – ärende №1: " * 50 + "Kontakt: asa.oberg@example.se, tel 070-123 45 67"
    found = SCANNER.scan_part(Part(text, "t"), 0)
    assert sorted(f.entity for f in found) == [E.EMAIL_ADDRESS, E.PHONE_NUMBER]
    assert {f.masked for f in found} == {"a***@e***.se", "***-*** ** 67"}


def test_a_recognizer_without_triggers_runs_on_all_text() -> None:
    prefilter = Prefilter([[], [Trigger("@")]])
    assert prefilter.windows("plain") == {0: [WHOLE]}
    assert prefilter.windows("") == {}


def test_the_same_trigger_with_different_windows_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="different windows"):
        Prefilter([[Trigger("@", before=1)], [Trigger("@", before=2)]])


def test_tiered_scan_finds_what_a_scan_of_the_whole_text_finds() -> None:
    """The windows change the cost, never the result: compare with every recognizer run on all text."""
    rng = random.Random(3)
    words = ["order", "card", "4111 1111 1111 1111", "call", "+46 70 123 45 67", "ref", "P0001234", "bsn",
             "111222333", "iban", "NL91ABNA0417164300", "mail", "x.y@example.org", "12.50", "2024-01-15",
             "NINO", "QQ 12 34 56 C", "ssn", "123-45-6789", "pnr", "19900101-1239", "ghp_" + "aB3" * 12]
    text = " ".join(rng.choice(words) for _ in range(3000))
    part = Part(text, "t")
    tiered = SCANNER.scan_part(part, 0)
    everything = Scanner(SCANNER.registry, ValueHasher(b"k" * 32))
    everything.prefilter = Prefilter([[] for _ in SCANNER.registry.recognizers])
    assert [(f.entity, f.location, f.digest) for f in tiered] == \
        [(f.entity, f.location, f.digest) for f in everything.scan_part(part, 0)]
    assert {f.entity for f in tiered} >= {E.CREDIT_CARD, E.PHONE_NUMBER, E.IBAN_CODE, E.EMAIL_ADDRESS, E.US_SSN}


def test_a_large_table_is_scanned_in_pieces_with_its_header_and_row_numbers() -> None:
    rows = ["name\tstreet address\tnote"] + [f"Item {i}\t\tnothing here" for i in range(60_000)]
    rows.append("Last\tStorgatan 12\tanna.berg@example.com")
    text = "\n".join(rows)
    assert len(text) > 2 * PIECE_CHARS
    found = [f for item in [scan_blob(SCANNER, text.encode(), "big.tsv", _limits())] for f in item.findings]
    by_entity = {f.entity: f for f in found}
    assert by_entity[E.STREET_ADDRESS].location.record == len(rows)  # the header came along as context
    assert by_entity[E.EMAIL_ADDRESS].location.record == len(rows)
    assert by_entity[E.EMAIL_ADDRESS].location.column == 3


def _limits():  # type: ignore[no-untyped-def]
    return Limits()


def test_layout_of_pieces_is_kept() -> None:
    text = ("Paragraph with nothing.\n\n" * 30_000) + "Mail me: anna.berg@example.com\n"
    [finding] = scan_blob(SCANNER, text.encode(), "long.txt", _limits()).findings
    assert finding.layout is Layout.PROSE and finding.location.record == 60_001
