"""Counting distinct people behind contact findings."""

from __future__ import annotations

from detectors import entities
from detectors.findings import Layout
from detectors.people import count_people
from tests.factories import make_contacts, make_finding

EMAIL, PHONE = entities.EMAIL_ADDRESS, entities.PHONE_NUMBER


def test_a_table_row_is_one_person() -> None:
    assert count_people(make_contacts(40)) == 40


def test_the_same_value_twice_is_one_person() -> None:
    findings = [make_finding(EMAIL, "a@example.com", record=r) for r in range(1, 6)]
    assert count_people(findings) == 1


def test_a_signature_block_in_prose_is_one_person() -> None:
    findings = [
        make_finding(EMAIL, "a@example.com", record=3, block=1, layout=Layout.PROSE),
        make_finding(PHONE, "+46701234567", record=4, block=1, layout=Layout.PROSE),
    ]
    assert count_people(findings) == 1


def test_a_line_listing_many_addresses_is_many_people() -> None:
    findings = [make_finding(EMAIL, f"p{i}@example.com", record=1, block=1, layout=Layout.PROSE) for i in range(7)]
    assert count_people(findings) == 7


def test_attendee_lines_with_email_and_phone_are_one_person_each() -> None:
    findings = []
    for i in range(9):
        findings.append(make_finding(EMAIL, f"p{i}@example.com", record=i + 2, block=1, layout=Layout.PROSE))
        findings.append(make_finding(PHONE, f"+3161234{i:04d}", record=i + 2, block=1, layout=Layout.PROSE))
    assert count_people(findings) == 9


def test_two_emails_in_one_row_are_one_person() -> None:
    findings = [make_finding(EMAIL, "work@example.com", record=2), make_finding(EMAIL, "home@example.com", record=2)]
    assert count_people(findings) == 1


def test_other_entities_are_not_people() -> None:
    assert count_people([make_finding(entities.CREDIT_CARD, "4111111111111111")]) == 0
