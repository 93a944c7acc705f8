"""Every detector: true cases, false cases and the near-misses that cause false blocks.

Each row is (text, entity, expected count) run through the real scanner, so the
context rules (weak candidates need a context word) are part of what is tested.
"""

from __future__ import annotations

import pytest

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))


def count(text: str, entity: str, layout: Layout = Layout.PROSE, header: tuple[str, ...] = ()) -> int:
    return sum(f.entity == entity for f in SCANNER.scan_part(Part(text, "t", layout, header), 0))


CASES = [
    # e-mail
    ("Contact anna.berg@example.com today", E.EMAIL_ADDRESS, 1),
    ("mail: j.doe+news@mail.corp-example.co.uk", E.EMAIL_ADDRESS, 1),
    ("Reach us at Ops@Example.ORG.", E.EMAIL_ADDRESS, 1),
    ("retina icon@2x.png and logo@3x.jpg", E.EMAIL_ADDRESS, 0),
    ("not an address: anna@ or @example.com", E.EMAIL_ADDRESS, 0),
    ("a@" + "a." * 40_000 + "1", E.EMAIL_ADDRESS, 0),  # was slow: unbounded domain labels
    # phone numbers
    ("Call (591)341-7776 now", E.PHONE_NUMBER, 1),
    ("206.269.0743x9150", E.PHONE_NUMBER, 1),
    ("+1-780-563-6083x7783", E.PHONE_NUMBER, 1),
    ("001-389-255-5979x71147", E.PHONE_NUMBER, 1),
    ("+44(0)115 4960914", E.PHONE_NUMBER, 1),
    ("(0161) 4960066", E.PHONE_NUMBER, 1),
    ("+46 (0)914 177 76", E.PHONE_NUMBER, 1),
    ("08-170 669 07", E.PHONE_NUMBER, 1),
    ("070-123 45 67", E.PHONE_NUMBER, 1),
    ("+31(0)914 177763", E.PHONE_NUMBER, 1),
    ("0837 783533", E.PHONE_NUMBER, 1),
    ("(0406)-812415", E.PHONE_NUMBER, 1),
    ("06-12345678", E.PHONE_NUMBER, 1),
    ("+49 (0) 9141 777631", E.PHONE_NUMBER, 1),
    ("Telefon: 3838016613", E.PHONE_NUMBER, 1),
    ("3838016613", E.PHONE_NUMBER, 0),  # a bare digit run needs a context word
    ("Invoice 2024-01-15, due 15.01.2024 or 01/15/2024", E.PHONE_NUMBER, 0),
    ("server 192.168.100.200, version 10.2.3.4", E.PHONE_NUMBER, 0),
    ("Total 1 234 567 kr and 12.345.678 EUR and 1234.56", E.PHONE_NUMBER, 0),
    ("8347887838483726", E.PHONE_NUMBER, 0),
    ("order ORD-2024-000123", E.PHONE_NUMBER, 0),
    ("ISBN 978-3-16-148410-0", E.PHONE_NUMBER, 0),
    # payment cards
    ("Card 4111 1111 1111 1111 exp 12/27", E.CREDIT_CARD, 1),
    ("4892184011070435", E.CREDIT_CARD, 1),
    ("6556508899579038", E.CREDIT_CARD, 1),
    ("4925412248244757713", E.CREDIT_CARD, 1),
    ("Amex 3782-822463-10005", E.CREDIT_CARD, 1),
    ("5555-5555-5555-4444", E.CREDIT_CARD, 1),
    ("JCB 213100000000001", E.CREDIT_CARD, 1),
    ("8347887838483726", E.CREDIT_CARD, 0),  # 16 digits failing Luhn
    ("4111 1111 1111 1112", E.CREDIT_CARD, 0),  # Luhn fails
    ("barcode 4006381333931", E.CREDIT_CARD, 0),  # EAN-13
    ("0000 0000 0000 0000", E.CREDIT_CARD, 0),
    ("1234 5678 9012 3452", E.CREDIT_CARD, 0),  # no card network starts with 1
    ("4111 11111 111 1111", E.CREDIT_CARD, 0),  # odd grouping
    ("576563414837", E.CREDIT_CARD, 0),  # short Maestro without context
    ("card: 576563414837", E.CREDIT_CARD, 1),
    # IBAN
    ("Pay to NL91 ABNA 0417 1643 00", E.IBAN_CODE, 1),
    ("GB23TNAH06202786838738", E.IBAN_CODE, 1),
    ("SE4550000000058398257466", E.IBAN_CODE, 1),
    ("NL91 ABNA 0417 1643 01", E.IBAN_CODE, 0),  # checksum fails
    ("NL91 ABNA 0417", E.IBAN_CODE, 0),
    # US SSN
    ("SSN 891-13-2933", E.US_SSN, 1),
    ("ssn: 536221234", E.US_SSN, 1),
    ("536221234", E.US_SSN, 0),
    ("000-12-3456 and 666-12-3456 and 912-12-3456 and 123-00-4567", E.US_SSN, 0),
    ("078-05-1120", E.US_SSN, 0),
    ("Date 2024-11-22", E.US_SSN, 0),
    # Swedish personnummer
    ("Personnummer 811218-9876", E.SE_PERSONNUMMER, 1),
    ("710926-6804", E.SE_PERSONNUMMER, 1),
    ("19811218-9876", E.SE_PERSONNUMMER, 1),
    ("198112189876", E.SE_PERSONNUMMER, 1),
    ("pnr 8112189876", E.SE_PERSONNUMMER, 1),
    ("8112189876", E.SE_PERSONNUMMER, 0),
    ("811218-9875", E.SE_PERSONNUMMER, 0),  # Luhn fails
    ("811318-9876", E.SE_PERSONNUMMER, 0),  # month 13
    # Dutch BSN
    ("BSN 111222333", E.NL_BSN, 1),
    ("burgerservicenummer: 589034674", E.NL_BSN, 1),
    ("1112.22.333", E.NL_BSN, 1),
    ("111222333", E.NL_BSN, 0),  # needs context
    ("BSN 111222334", E.NL_BSN, 0),  # 11-check fails
    # UK National Insurance number
    ("NI number AB 12 34 56 C", E.UK_NINO, 1),
    ("ZZ 60 83 77 T", E.UK_NINO, 1),
    ("ZZ 353374 T", E.UK_NINO, 1),
    ("AB123456C", E.UK_NINO, 1),
    ("National Insurance ZZ748906T", E.UK_NINO, 1),
    ("ZZ748906T", E.UK_NINO, 0),
    ("GB 12 34 56 A", E.UK_NINO, 0),  # prefix never allocated
    ("DA 12 34 56 A", E.UK_NINO, 0),  # D is not a valid first letter
]


@pytest.mark.parametrize(("text", "entity", "expected"), CASES,
                         ids=[f"{e}-{i}-expect-{n}" for i, (_, e, n) in enumerate(CASES)])
def test_detector_cases(text: str, entity: str, expected: int) -> None:
    assert count(text, entity) == expected


BODY = "MIIEowIBAAKCAQEAx3Q9sZk2Yv8rJ0bH5tLwXcP1mN7qR4uT6vW8yA0zB2dF"
SECRET_CASES = [
    (f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----", E.PRIVATE_KEY, 1),
    (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{BODY}\n", E.PRIVATE_KEY, 1),
    (f"-----BEGIN PUBLIC KEY-----\n{BODY}\n", E.PRIVATE_KEY, 0),
    (f"-----BEGIN CERTIFICATE-----\n{BODY}\n", E.PRIVATE_KEY, 0),
    ("AWS_ACCESS_KEY_ID=AKIA2OGYBAH6STMMNXNN", E.AWS_ACCESS_KEY, 1),
    ("ASIAY34FZKBOKMUTVV7A", E.AWS_ACCESS_KEY, 1),
    ("AKIAIOSFODNN7EXAMPLE", E.AWS_ACCESS_KEY, 0),
    ("akia2ogybah6stmmnxnn", E.AWS_ACCESS_KEY, 0),
    ("aws_secret_access_key = 9drTJvcXLB89EXAMPLEKEYx8h2fTq0N+uVdJSxQ3", E.AWS_SECRET_KEY, 0),
    ("aws_secret_access_key = 9drTJvcXLB89Mfk4Lx8h2fTq0N+uVdJSxQ3kpWz2", E.AWS_SECRET_KEY, 1),
    ("9drTJvcXLB89Mfk4Lx8h2fTq0N+uVdJSxQ3kpWz2", E.AWS_SECRET_KEY, 0),  # no context
    ("commit 3f786850e387550fdab836ed7e6dc881de23001b", E.AWS_SECRET_KEY, 0),
    ("GITHUB_TOKEN=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", E.GITHUB_TOKEN, 1),  # CRC32 valid
    ("github_pat_11AQ7ZKRI0m4Tq9XcB2vLw_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS",
     E.GITHUB_TOKEN, 1),
    ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", E.GITHUB_TOKEN, 0),
    ("SLACK_BOT_TOKEN=xoxb-821993518190-937865797543-YlSXpfKtHF4vUCsMehGAkWvj", E.SLACK_TOKEN, 1),
    ("https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/Xq8ZtR2mKc7Lp4Wv9Yb3Nd6F", E.SLACK_TOKEN, 1),
    ("SLACK_BOT_TOKEN=xoxb-your-token-here", E.SLACK_TOKEN, 0),
    ("key=AIzaSyD4x7Qm2Lp9Wk3Zr8Tb1Nc6Vf0Hj5Gs2Ya", E.GOOGLE_API_KEY, 1),
    ("YOUR_API_KEY_HERE", E.GOOGLE_API_KEY, 0),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", E.STRIPE_SECRET_KEY, 1),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", E.STRIPE_SECRET_KEY, 0),
]


@pytest.mark.parametrize(("text", "entity", "expected"), SECRET_CASES,
                         ids=[f"{e}-{i}-expect-{n}" for i, (_, e, n) in enumerate(SECRET_CASES)])
def test_secret_cases(text: str, entity: str, expected: int) -> None:
    assert count(text, entity) == expected


def test_column_header_is_context_for_bare_numbers_in_a_table() -> None:
    table = "name\tbsn\tphone\nAnn\t111222333\t3838016613\nBo\t589034674\t2333401878"
    header = ("name", "bsn", "phone")
    assert count(table, E.NL_BSN, Layout.TABLE, header) == 2
    assert count(table, E.PHONE_NUMBER, Layout.TABLE, header) == 2


def test_a_header_of_another_column_is_not_context() -> None:
    table = "phone\tcustomer id\n+46 70 123 45 67\t111222333"
    assert count(table, E.NL_BSN, Layout.TABLE, ("phone", "customer id")) == 0


def test_context_does_not_leak_across_table_rows() -> None:
    table = "note\tvalue\nBSN below\tx\nnothing\t111222333"
    assert count(table, E.NL_BSN, Layout.TABLE, ("note", "value")) == 0


def test_context_words_match_whole_words_only() -> None:
    assert count("hotel 3838016613", E.PHONE_NUMBER) == 0
    assert count("tel 3838016613", E.PHONE_NUMBER) == 1


def test_overlapping_candidates_keep_the_most_confident() -> None:
    findings = SCANNER.scan_part(Part("Card 4111 1111 1111 1111 and SSN 891-13-2933", "t"), 0)
    assert sorted(f.entity for f in findings) == [E.CREDIT_CARD, E.US_SSN]


def test_findings_hold_masked_examples_and_digests_never_the_value() -> None:
    text = "anna.berg@example.com 4111 1111 1111 1111 811218-9876 +46 70 123 45 67"
    findings = SCANNER.scan_part(Part(text, "t"), 0)
    assert {f.entity for f in findings} == {E.EMAIL_ADDRESS, E.CREDIT_CARD, E.SE_PERSONNUMMER, E.PHONE_NUMBER}
    for finding in findings:
        for raw in ("anna.berg", "4111 1111 1111 1111", "4111111111111111", "811218-9876", "123 45 67"):
            assert raw not in finding.masked and raw not in finding.digest
    assert {f.masked for f in findings} >= {"a***@e***.com", "**** **** **** 1111", "******-**76"}


def test_same_value_differently_written_has_the_same_digest() -> None:
    a, b = (SCANNER.scan_part(Part(t, "t"), 0)[0] for t in ("4111 1111 1111 1111", "4111-1111-1111-1111"))
    assert a.digest == b.digest


def test_long_digit_runs_do_not_hang_or_match() -> None:
    text = ("1234567890" * 5000 + " ") * 4
    assert SCANNER.scan_part(Part(text, "t"), 0) == []


def test_addresses_are_known_by_their_column_header() -> None:
    table = "namn\tadress\tort\nAnna\tStorgatan 12\tStockholm\nBo\tKerkstraat 5A\tAmsterdam\nCe\tn/a\tX"
    assert count(table, E.STREET_ADDRESS, Layout.TABLE, ("namn", "adress", "ort")) == 2


def test_addresses_are_known_by_their_json_field() -> None:
    records = "name: Anna\taddress: Storgatan 12\nname: Bo\thome_address: Main St 5"
    assert count(records, E.STREET_ADDRESS, Layout.STRUCTURED) == 2


@pytest.mark.parametrize("header", ["IP address", "MAC address", "Email address", "wallet_address", "city"])
def test_other_kinds_of_address_are_not_postal(header: str) -> None:
    table = f"host\t{header}\nsrv1\t00:1A:2B:3C:4D:5E\nsrv2\tStorgatan 12"
    assert count(table, E.STREET_ADDRESS, Layout.TABLE, ("host", header)) == 0


def test_street_names_in_prose_are_not_guessed() -> None:
    assert count("We met at Storgatan 12 in Stockholm.", E.STREET_ADDRESS) == 0
