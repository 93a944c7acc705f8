"""Phone numbers need a phone's shape or a context word; barcodes, order and invoice numbers are not phones."""

from __future__ import annotations

import random

import pytest
from stdnum import ean

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.limits import Limits
from detectors.people import count_people
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher, scan_blob

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))
PRODUCTS = ["Mobile charger", "Phone case", "Cell holder", "Call button", "Contact lens", "Tel adapter"]


def entities_in(text: str) -> list[str]:
    return [f.entity for f in SCANNER.scan_part(Part(text, "t", Layout.PROSE), 0)]


def barcode(rng: random.Random, length: int) -> str:
    base = "".join(rng.choice("0123456789") for _ in range(length - 1))
    return base + ean.calc_check_digit(base)


@pytest.mark.parametrize("length", [8, 12, 13, 14])
def test_a_product_catalogue_with_barcodes_is_no_contact_list(length: int) -> None:
    """Product names say 'mobile', 'phone', 'call': the barcodes next to them are still barcodes, and the
    order numbers in a column so named are order numbers."""
    rng = random.Random(length)
    rows = ["Article no;Product;Barcode;Price;Order no"]
    rows += [f"{100000 + i};{rng.choice(PRODUCTS)} {i};{barcode(rng, length)};{rng.randint(10, 500)}.00;"
             f"00{rng.randint(10 ** 9, 10 ** 10)}" for i in range(40)]
    result = scan_blob(SCANNER, ("\n".join(rows) + "\n").encode(), "catalogue.csv", Limits())
    assert count_people(result.findings) == 0, [f.masked for f in result.findings][:5]


@pytest.mark.parametrize("text", [
    "Order 000123456 shipped.",
    "Order no. 0046701234567 is on its way",
    "Invoice 20240117 paid",
    "EAN 7312345678901, price 12.50",
    "Art.nr 0701234567 in stock",
    "ISSN 0317-8471",
    "ISBN 978-0-306-40615-7",
    "SKU: 00123-4567-89",
    "Customer no 0701234567",
    "Kundnummer: 0707654321",
    "Fakturanummer 0701234567",
])
def test_labelled_numbers_are_not_phones(text: str) -> None:
    assert E.PHONE_NUMBER not in entities_in(text)


@pytest.mark.parametrize("text", [
    "Call Anna on +46 70 123 45 67",
    "Mobile: 0046 70 123 45 67",
    "tel 08-123 456 78",
    "phone +1 (415) 555-0132",
    "call 0701234567",
    "Ring 0701234567 om ordern",
    "Bel me op 020-123 4567",
    "Order +46 70 123 45 67 for questions",  # a + and a country code: a phone, whatever the label
    "Item #12345678, questions: call 070-123 45 67",
])
def test_phones_are_still_phones(text: str) -> None:
    assert entities_in(text) == [E.PHONE_NUMBER]


def test_a_00_run_without_a_country_behind_it_is_no_phone() -> None:
    assert entities_in("Reference 000123456 / 0099123456") == []


def test_a_contact_list_still_counts_its_people() -> None:
    rows = ["Name;Phone;Customer no"] + [f"Person {i};070-{100 + i} 45 67;{7000000 + i}" for i in range(6)]
    result = scan_blob(SCANNER, ("\n".join(rows) + "\n").encode(), "contacts.csv", Limits())
    assert count_people(result.findings) == 6


def test_a_dotted_ssn_is_an_ssn_not_a_phone() -> None:
    assert entities_in("SSN 536.22.1234 on file") == [E.US_SSN]


LABELLED_PHONES = [
    ("Phone no", "Phone no: 020 7946 0018"),
    ("Telefon nr", "Telefon nr: 070-123 45 67"),
    ("Mobile No.", "Mobile No. 07700 900123"),
    ("Phone #", "Phone #: (415) 555-0132"),
    ("Tel nr bare run", "Tel nr 0701234567"),
    ("tel. 3-3-3 (PL)", "tel. 512 345 678"),
    ("Movil 3-3-3 (ES)", "Móvil: 612 345 678"),
]


@pytest.mark.parametrize("text", [c[1] for c in LABELLED_PHONES], ids=[c[0] for c in LABELLED_PHONES])
def test_a_phone_labelled_no_or_nr_is_a_phone(text: str) -> None:
    assert entities_in(text) == [E.PHONE_NUMBER]


NOT_PHONES = [
    ("amount 3-3-3 near call", "Call center stats: 512 345 678 minutes"),
    ("amount 3-3-3 near contact", "contact count 123 456 789"),
    ("model number", "phone case model 12345678"),
    ("ticket number", "Contact support, ticket 2024-0012345"),
    ("case number", "call about case 0701234567"),
    ("SSN layout failing SSN checks", "phone 078-05-0000"),
]


@pytest.mark.parametrize("text", [c[1] for c in NOT_PHONES], ids=[c[0] for c in NOT_PHONES])
def test_amounts_models_and_tickets_are_not_phones(text: str) -> None:
    assert E.PHONE_NUMBER not in entities_in(text)


@pytest.mark.parametrize("header", ["Phone no", "Tel nr", "Mobile #", "Telefonnr"])
def test_a_phone_column_labelled_with_a_number_word_holds_phones(header: str) -> None:
    """"no", "nr" and "#" label order and article numbers, but a column named for phones holds phones."""
    rows = [f"Anna Berg\t070-{100 + i} {10 + i} {20 + i}" for i in range(5)]
    text = f"Name\t{header}\n" + "\n".join(rows)
    part = Part(text, "t", Layout.TABLE, ("Name", header))
    assert sum(f.entity == E.PHONE_NUMBER for f in SCANNER.scan_part(part, 0)) == 5
