"""Exact data match: normalising, fingerprinting and matching records."""

from __future__ import annotations

import pytest

from detectors.edm import build, matches, normalize

ROWS = [{"name": "Anna Berg", "email": "anna.berg@example.se", "phone": "+46 70 123 45 67"},
        {"name": "Bram de Vries", "email": "bram@example.nl", "phone": "06-12345678"}]


@pytest.mark.parametrize(("a", "b"), [("Anna  Berg", "anna berg"), ("+46 70-123 45 67", "46701234567"),
                                      ("email: Anna.Berg@Example.se", "anna.berg@example.se")])
def test_normalize_ignores_case_spacing_and_phone_format(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_a_record_matches_when_enough_of_its_values_appear_together() -> None:
    fingerprints = build("customers", ROWS, ["name", "email", "phone"])
    assert matches(fingerprints, "ANNA BERG\t+46701234567") == {0}
    assert matches(fingerprints, "Anna Berg; 06-12345678") == set()  # values of two different records
    assert matches(fingerprints, "Anna Berg") == set()  # one value is not enough (min_fields 2)


def test_only_salted_hashes_are_kept() -> None:
    a, b = build("customers", ROWS, ["name", "email"]), build("customers", ROWS, ["name", "email"])
    assert a.key != b.key and set(a.index).isdisjoint(b.index)  # a fresh key per set
    assert not any("anna" in digest for digest in a.index)


def test_bad_names_and_empty_exports_are_refused() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        build("Customers!", ROWS, ["name"])
    with pytest.raises(ValueError, match="no rows"):
        build("customers", [], ["name"])
