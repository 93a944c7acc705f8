"""Dense table columns counted in bulk (``detectors.sweep``) count what the value-by-value scan counts.

Each table is scanned twice: as Detour scans it (its dense columns swept) and with sweeping switched off
(every value a finding of its own). Counts, distinct values, people, first places and the default policy's
data classes must agree, on tables with the mess real exports have: odd cells, several layouts, shared
switchboard numbers, upper-case duplicates, names with accents, first and last name columns, ragged rows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import numpy as np
import pytest

from detectors import entities, sweep
from detectors.findings import ScanResult, Shape
from detectors.limits import Limits
from detectors.recognizers.columns import PersonColumnRecognizer, looks_like_name
from detectors.recognizers.pii import EmailRecognizer, PhoneRecognizer
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher, scan_blob
from detectors.screens import could_match
from gateway.policy.engine import measure
from gateway.policy.loader import Policy
from gateway.records import Evidence

EMAIL, PHONE, PERSON = entities.EMAIL_ADDRESS, entities.PHONE_NUMBER, entities.PERSON
SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"s" * 32))
FIRST = "Anna Bram Carla David Eva Frank Greta Hugo Ines Jonas Karin Lars Maja Nils Olga Pieter Åsa Örjan Zoë".split()
LAST = "Berg Vries Jones Smith Lind Olsen Jansen Svensson Bakker Visser Nilsson Meijer Öberg Ström".split()
COMPANIES = "Lamp AB|Chair BV|Desk Ltd|Cable GmbH|Screen AS".split("|")


def _both(blob: bytes, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[ScanResult, ScanResult]:
    swept = scan_blob(SCANNER, blob, name, Limits())
    with monkeypatch.context() as patched:
        patched.setattr(sweep, "MIN_ROWS", 10**9)  # every value a finding of its own
        one_by_one = scan_blob(SCANNER, blob, name, Limits())
    return swept, one_by_one


def _summary(scan: ScanResult) -> dict[str, tuple[int, int, int, tuple[object, ...]]]:
    return {d.entity: (d.count, d.distinct, d.people, d.places) for d in Evidence.of(scan).detectors}


def _assert_same(blob: bytes, name: str, policy: Policy, monkeypatch: pytest.MonkeyPatch,
                 swept_entities: set[str]) -> ScanResult:
    swept, one_by_one = _both(blob, name, monkeypatch)
    assert {s.entity for s in swept.swept} == swept_entities
    assert not one_by_one.swept
    assert _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)
    assert swept.count == one_by_one.count
    assert len(swept.findings) < len(one_by_one.findings) // 2  # most values were counted in bulk
    return swept


def _csv(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _phone(rng: random.Random) -> str:
    layout = rng.random()
    if layout < 0.5:
        return f"+46 70 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    if layout < 0.7:
        return f"070-{rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    if layout < 0.85:
        return f"+31 6 {rng.randint(10_000_000, 99_999_999)}"
    return f"0031 20 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _email(rng: random.Random, i: int) -> str:
    domain = ["example.com", "mail.example.se", "Example.NL", "corp.example.org"][i % 4]
    address = f"p.{i}_x@{domain}"
    return address.upper() if rng.random() < 0.05 else address


def test_a_contact_list_swept_counts_what_one_by_one_counts(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(1)
    rows = [["name", "email", "phone", "company"]]
    for i in range(4_000):
        rows.append([_name(rng), _email(rng, i % 3_100), _phone(rng), rng.choice(COMPANIES)])
    # what exports hold besides: empty cells, placeholders, a typo, an address with a space, double spaces
    rows[50][2] = ""
    rows[700][1] = "n/a"
    rows[1500][1] = "anna..berg@example.com"
    rows[2100][0] = "Anna  Berg"
    rows[2600][2] = "+46 70 123 45 67 ext 12"
    rows[3000][1] = " eva@example.com"
    scan = _assert_same(_csv(rows), "customers.csv", policy, monkeypatch, {PERSON, EMAIL, PHONE})
    summary = _summary(scan)
    assert summary[EMAIL][0] == 4_000 - 2  # "n/a" and "anna..berg@…" are no addresses
    addresses = {row[1].strip().lower() for row in rows[1:] if "@" in row[1] and ".." not in row[1]}
    assert summary[EMAIL][1] == len(addresses) < 3_200  # upper-case copies are the same address


def test_rows_without_names_join_by_shared_values(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(2)
    rows = [["email", "phone", "city"]]
    switchboard = "+46 8 555 123 45"
    for i in range(3_000):
        phone = switchboard if i % 10 == 0 else f"+46 70 {rng.randint(100, 999)} {rng.randint(10, 99)} {i % 97:02d}"
        rows.append([f"person{i % 2_500}@example.com", phone, rng.choice(["Lund", "Delft", "Malmö"])])
    _assert_same(_csv(rows), "contacts.csv", policy, monkeypatch, {EMAIL, PHONE})


def test_first_and_last_name_columns(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    rows = [["first name", "last name", "e-mail", "mobile"]]
    for i in range(2_500):
        rows.append([rng.choice(FIRST), rng.choice(LAST), f"{i}.x@example.com", _phone(rng)])
    _assert_same(_csv(rows), "people.csv", policy, monkeypatch, {PERSON, EMAIL, PHONE})


def test_a_ragged_piece_is_checked_value_by_value(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(4)
    rows = [["name", "email", "phone"]]
    for i in range(5_000):
        rows.append([_name(rng), f"p{i}@example.com", _phone(rng)])
    rows[4_500].append("a note")  # one row with an extra cell, in a later piece
    blob = _csv(rows)
    swept, one_by_one = _both(blob, "ragged.csv", monkeypatch)
    assert swept.swept and _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)


def test_barcodes_and_order_numbers_are_never_swept_as_phones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    rows = [["name", "email", "ean", "order no"]]
    for i in range(3_000):
        rows.append([_name(rng), f"p{i}@example.com", f"73{rng.randint(10**10, 10**11 - 1)}",
                     f"00{rng.randint(10**8, 10**9 - 1)}"])
    swept, one_by_one = _both(_csv(rows), "orders.csv", monkeypatch)
    assert {s.entity for s in swept.swept} == {PERSON, EMAIL}
    assert PHONE not in _summary(swept) and _summary(swept) == _summary(one_by_one)


def test_nothing_swept_holds_a_value() -> None:
    rng = random.Random(6)
    rows = [["name", "email", "phone"]] + [[_name(rng), f"p{i}@example.com", _phone(rng)] for i in range(3_000)]
    scan = scan_blob(SCANNER, _csv(rows), "c.csv", Limits())
    assert scan.swept
    for swept in scan.swept:
        assert swept.records.dtype == np.int64 and swept.values.dtype == np.int64
        for example in swept.examples:
            assert "*" in example  # masked
            assert example.encode() not in _csv(rows)


def test_a_small_table_keeps_every_finding() -> None:
    rows = [["name", "email"]] + [[f"Anna Berg{i}", f"p{i}@example.com"] for i in range(300)]
    scan = scan_blob(SCANNER, _csv(rows), "small.csv", Limits())
    assert not scan.swept and len(scan.of({EMAIL})) == 300


# --- the shapes: every cell a shape matches, the recognizer accepts with the one score ----------------------


def _fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\\d", lambda _: str(rng.randint(0, 9)), template).replace("\\", "")


@pytest.mark.parametrize("layout", ["+46 70 123 45 67", "0046 70 123 45 67", "070-123 45 67", "(555) 123-4567",
                                    "555-123-4567", "+31 6 12345678", "+1 415.555.0100", "020/123 45 67"])
def test_every_phone_of_a_layout_scores_alike(layout: str) -> None:
    recognizer = PhoneRecognizer()
    shapes = recognizer.column_shapes([layout])
    assert shapes is not None and len(shapes) == 1
    pattern = re.compile(shapes[0].pattern.replace("\\ ", " "))
    rng = random.Random(layout)
    expected = recognizer.score(layout)
    for _ in range(300):
        value = _fill(shapes[0].pattern[1:-1], rng)
        assert pattern.fullmatch(value)
        assert recognizer.score(value) == expected, value


@pytest.mark.parametrize("value", ["2024-01-15", "1-234-56789-0", "0701234567", "9781234567897",
                                   "+44 (0)20 7946 0958", "070 123 45 67 x12"])
def test_layouts_whose_checks_depend_on_the_digits_are_not_swept(value: str) -> None:
    assert PhoneRecognizer()._template(value) is None


def _random_email(rng: random.Random, tlds: list[str]) -> str:
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_%+-"
    local = rng.choice("abcXYZ019") + "".join(
        (("." if rng.random() < 0.2 else "") + rng.choice(chars)) for _ in range(rng.randint(0, 20)))
    labels = ["".join(rng.choice("abc019") for _ in range(rng.randint(1, 8))) for _ in range(rng.randint(1, 3))]
    return f"{local}@{'.'.join(labels)}.{rng.choice(tlds)}"


def test_every_address_of_the_email_shape_is_an_email() -> None:
    recognizer = EmailRecognizer()
    shapes = recognizer.column_shapes(["a@example.com", "b@example.se", "c@x.NL", "d@y.png"])
    assert shapes is not None
    assert "png" not in shapes[0].pattern  # a file name is never an address's ending
    import pyarrow as pa

    rng = random.Random(7)
    values = [_random_email(rng, ["com", "SE", "nl"]) for _ in range(500)]
    matched = sweep.matches(pa.array(values), shapes[0]).to_pylist()
    assert any(matched)
    pattern = re.compile(recognizer.patterns[0].regex)
    for value, ok in zip(values, matched, strict=True):
        if ok:
            found = pattern.search(f"\t{value}\t")
            assert found is not None and found.group() == value and recognizer.validate_result(value), value


def test_every_name_of_the_name_shape_looks_like_a_name() -> None:
    shapes = PersonColumnRecognizer().column_shapes(["Anna Berg"])
    assert shapes is not None
    import pyarrow as pa

    rng = random.Random(8)
    letters = "abcåäöéüßłçABCÅÄÖÉ'’.-"
    values = [" ".join(rng.choice("AÅZÉ") + "".join(rng.choice(letters) for _ in range(rng.randint(0, 9)))
                       for _ in range(rng.randint(1, 6))) for _ in range(500)]
    matched = sweep.matches(pa.array(values), shapes[0]).to_pylist()
    assert any(matched) and not all(matched)
    for value, ok in zip(values, matched, strict=True):
        assert ok == looks_like_name(value) or (not ok and len(value.encode()) > 60), value


def test_only_contact_detectors_are_swept() -> None:
    swept_by: Callable[[str], bool] = lambda entity: entities.sweepable([entity])  # noqa: E731
    assert swept_by(EMAIL) and swept_by(PHONE) and swept_by(PERSON)
    for entity in (entities.CREDIT_CARD, entities.IBAN_CODE, entities.SE_PERSONNUMMER, entities.US_SSN,
                   entities.STREET_ADDRESS):
        assert not swept_by(entity)


# --- what a hostile uploader tried (a helper's review): the swept scan finds what the one-by-one scan finds --------


def test_national_ids_written_like_the_phone_column_are_still_found(policy: Policy,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """100 phone numbers teach the column its layout; 6,000 SSNs in that layout follow. The SSN recognizer's
    screen keeps those cells from being swept, so they are found (and win over the phone, as everywhere)."""
    rng = random.Random(11)
    rows = [["name", "phone"]]
    rows += [[_name(rng), f"(04) {i % 9}{rng.randint(0, 99):02d} 00 {rng.randint(1000, 9999)}"] for i in range(100)]
    rows += [[_name(rng), f"(04) {rng.randint(1, 665):03d} {rng.randint(1, 99):02d} {rng.randint(1, 9999):04d}"]
             for _ in range(6_000)]
    swept, one_by_one = _both(_csv(rows), "ids.csv", monkeypatch)
    assert _summary(swept)[entities.US_SSN][0] == 6_000
    assert _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)


@pytest.mark.parametrize("hidden", [["Classification:", "Confidential", ""],
                                    ["", "AIza" + "SyDdKeYdEmOqWeRtYuIoPaSdFgHjKlZxCvB", ""]],
                         ids=["a sensitivity label", "an API key of letters"])
def test_a_name_shaped_secret_in_a_name_column_is_still_found(hidden: list[str], policy: Policy,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(12)
    rows = [["note", "full name", "city"]] + [["", _name(rng), "Lund"] for _ in range(9_000)]
    rows[3_000] = hidden
    swept, one_by_one = _both(_csv(rows), "names.csv", monkeypatch)
    assert swept.swept and _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)
    assert {entities.SENSITIVITY_LABEL, entities.GOOGLE_API_KEY} & set(_summary(swept))


def test_a_name_column_is_judged_all_the_way_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real names first, then 'Info Desk' on 11,900 rows with their own addresses: where the column stops
    looking like names its cells are no names, so those rows are people by their addresses (not one person)."""
    rows = [["name", "email"]] + [["Anna Berg", f"a{i}@example.com"] for i in range(100)]
    rows += [["Info Desk", f"desk{i}@example.com"] for i in range(11_900)]
    swept, one_by_one = _both(_csv(rows), "desk.csv", monkeypatch)
    people = count_people_of(swept)
    assert people >= count_people_of(one_by_one) > 9_000
    assert _summary(swept)[PERSON][0] < 1_000


def count_people_of(scan: ScanResult) -> int:
    from detectors.people import count_people

    return count_people(scan.findings, frozenset({EMAIL}), scan.swept)


@pytest.mark.parametrize("names", [["ΝΙΚΟΣ Παπαδόπουλος", "Νίκος Παπαδόπουλος", "İlker Yılmaz", "ilker Yılmaz"]],
                         ids=["greek and turkish case"])
def test_names_are_told_apart_as_python_lower_cases_them(names: list[str], policy: Policy,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["full name", "email"]] + [[names[i % len(names)], f"p{i}@example.com"] for i in range(6_000)]
    swept, one_by_one = _both(_csv(rows), "names.csv", monkeypatch)
    assert PERSON in {s.entity for s in swept.swept}
    assert _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)


def test_phone_layouts_with_a_digit_in_brackets_are_checked_one_by_one(policy: Policy,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(13)
    rows = [["name", "phone"]]
    for i in range(6_000):
        number = f"8 1{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
        rows.append([_name(rng), ("(0)" if i % 2 else "0") + number])
    swept, one_by_one = _both(_csv(rows), "phones.csv", monkeypatch)
    assert _summary(swept) == _summary(one_by_one)
    assert measure(swept, policy) == measure(one_by_one, policy)


def test_a_name_twice_in_a_row_is_one_person(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["first name", "last name", "mobile"]]
    for i in range(6_000):
        first = FIRST[i % 3]
        rows.append([first, first if i % 2 else LAST[i % 2], f"+46 70 {i:03d} {i % 100:02d} {i % 97:02d}"[:16]])
    swept, one_by_one = _both(_csv(rows), "dup.csv", monkeypatch)
    assert measure(swept, policy) == measure(one_by_one, policy)


def test_a_swept_scan_keeps_no_partial_trace() -> None:
    """The findings kept one by one are no prefix of a swept scan (names counted in bulk would be missing):
    deciding again on them could trigger a rule the whole did not, so none are kept."""
    rng = random.Random(14)
    rows = [["name", "mobile"]] + [[_name(rng), f"+46 70 {i % 1000:03d} {i % 100:02d} 12"] for i in range(8_000)]
    evidence = Evidence.of(scan_blob(SCANNER, _csv(rows), "c.csv", Limits()))
    assert not evidence.traced and evidence.trace == () and evidence.scan().partial


SCREENED_VALUES = ["123-45-6789", "123 45 6789", "4111 1111 1111 1111", "4111111111111111", "811228-9874",
                   "19811228-9874", "1234.56.782", "AB 12 34 56 C", "ab123456c", "SE45 5000 0000 0583 9825 7466",
                   "NL91ABNA0417164300"]


@pytest.mark.parametrize("value", SCREENED_VALUES)
def test_the_screen_matches_every_value_of_a_screened_recognizer(value: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    split = SCANNER._split(frozenset({EMAIL, PHONE, PERSON}))
    assert split.screens.patterns
    for cell in (value, f"+46 {value}", f"{value} x"):
        assert any(pc.match_substring_regex(pa.array([cell]), s)[0].as_py() for s in split.screens.patterns), cell
        # worked out from the patterns, a cell of exactly these characters could hold one too
        assert any(could_match(s, tuple(cell)) for s in split.screens.patterns), cell


def _strings(rng: random.Random) -> list[str]:
    """Cells made of what screened values and phone layouts are made of."""
    pieces = ["", " ", "-", ".", "+", "(", ")", "0", "00", "46", "SE", "se", "AB", "x", "@", "_"]
    out = list(SCREENED_VALUES)
    for _ in range(400):
        out.append("".join(rng.choice(pieces) if rng.random() < 0.3 else str(rng.randint(0, 10**rng.randint(1, 8)))
                           for _ in range(rng.randint(1, 6))))
    return out


def test_worked_out_from_the_patterns_a_cell_could_match_exactly_when_the_screen_matches_it() -> None:
    """``could_match`` over one string (each position one character) gives RE2's answer on that string, for
    every screen of the shipped recognizers: it follows every construct they are made of."""
    import pyarrow as pa
    import pyarrow.compute as pc

    screens = SCANNER._split(frozenset({EMAIL, PHONE, PERSON})).screens.patterns
    cells = _strings(random.Random(21))
    for screen in screens:
        matched = pc.match_substring_regex(pa.array(cells), screen).to_pylist()
        assert [could_match(screen, tuple(c)) for c in cells] == matched, screen


def test_what_the_analysis_does_not_follow_could_match() -> None:
    """A POSIX class, and letters case-blind matching folds into ASCII ones (KELVIN SIGN, LONG S): RE2 matches
    them in these cells, so the analysis must not say it can't."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for pattern, cell in ((r"[[:digit:]]{3}-[0-9]{2}", "123-45"), ("(?i)\u212a[0-9]{4}", "k1234"),
                          ("(?i)[\u017f][0-9]{2}", "S12")):
        assert pc.match_substring_regex(pa.array([cell]), pattern)[0].as_py(), pattern
        assert could_match(pattern, tuple(cell)), pattern


def test_a_lower_case_iban_in_an_address_is_screened() -> None:
    """The IBAN recognizer's start is case-blind (a flag of its compiled pattern): so is its screen."""
    import pyarrow as pa
    import pyarrow.compute as pc

    screens = SCANNER._split(frozenset({EMAIL, PHONE, PERSON})).screens.patterns
    cell = "pay.se4550000000058398257466@example.com"
    assert any(pc.match_substring_regex(pa.array([cell]), s)[0].as_py() for s in screens)


def test_a_phone_layout_no_screened_value_fits_in_is_not_screened_cell_by_cell() -> None:
    """A layout is checked against each screen once: "+46 7d ddd dd dd" cannot hold a card, an SSN, a
    personnummer… so its cells are not screened; layouts that could hold one keep the screens that could."""
    screens = SCANNER._split(frozenset({EMAIL, PHONE, PERSON})).screens
    phone = Shape(r"^\+46\ 7\d\ \d\d\d\ \d\d\ \d\d$", "phone", remove=" ")
    assert sweep._screen(phone, 0.8, screens) is None
    for pattern in (r"^\d\d\d\-\d\d\-\d\d\d\d$", r"^\d\d\d\d\d\d\d\d\d\d\d\d$", r"^\+46\ \d\d\d\d\d\d\-\d\d\d\d$"):
        assert sweep._screen(Shape(pattern, "phone", remove=" -"), 0.8, screens) is not None, pattern
    # a layout that is not a fixed sequence of characters keeps every screen
    email = Shape(r"^[a-z0-9.]+@example\.com$", "ascii")
    assert sweep._screen(email, 0.9, screens) == "|".join(f"(?:{s})" for s in screens.patterns)


def test_a_certain_shape_holding_what_no_screened_value_can_is_not_screened() -> None:
    """No card, IBAN or national ID holds an @: in a certain e-mail cell whatever they find is shorter and no
    more certain, so the e-mail is the one finding there, swept or one by one; such cells need no screen."""
    screens = SCANNER._split(frozenset({EMAIL, PHONE, PERSON})).screens
    assert "@" in screens.unheld and not {"0", "5", " ", "-", "A", "z"} & screens.unheld
    email = Shape(r"^[a-z0-9.]+@example\.com$", "ascii")
    assert sweep._screen(email, 1.0, screens) is None
    assert sweep._screen(email, 0.9, screens) is not None  # less certain: one of theirs could win


@pytest.mark.parametrize("local", ["4111111111111111", "se4550000000058398257466", "123-45-6789", "ab123456c",
                                   "811228-9874", "hugo.de12", "nl91abna0417164300"])
def test_numbers_inside_e_mail_addresses_count_as_one_by_one(local: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An e-mail column where some addresses hold a card, an IBAN or an ID number: the same summaries swept
    (those cells not screened) and one by one."""
    rng = random.Random(27)
    rows = [["name", "email"]] + [[_name(rng), f"user{i}@example.com"] for i in range(5_000)]
    for i in range(200, 5_000, 300):  # (after the rows the column is learnt from)
        rows[i + 1][1] = f"{local}@example.com"
    swept, one_by_one = _both(_csv(rows), "e.csv", monkeypatch)
    assert EMAIL in {s.entity for s in swept.swept}
    assert _summary(swept) == _summary(one_by_one)


def test_worked_out_from_the_patterns_a_layout_could_match_whenever_one_of_its_cells_does() -> None:
    """For random layouts, every cell of the layout the screen matches is one the analysis said could."""
    import pyarrow as pa
    import pyarrow.compute as pc

    screens = SCANNER._split(frozenset({EMAIL, PHONE, PERSON})).screens.patterns
    rng = random.Random(22)
    for _ in range(60):
        positions = tuple(rng.choice(["0123456789"] * 4 + [" ", "-", "+", "(", ")", ".", "S", "E"])
                          for _ in range(rng.randint(6, 20)))
        cells = ["".join(rng.choice(p) for p in positions) for _ in range(200)]
        for screen in screens:
            if any(pc.match_substring_regex(pa.array(cells), screen).to_pylist()):
                assert could_match(screen, positions), (screen, positions)


def test_a_header_ending_in_a_phone_word_labels_no_number_of_the_first_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """'mobile' at the end of the header line is the column's name, not a label right before the first row's
    number: that number scores as the others, and the column (phones first) is swept."""
    rng = random.Random(15)
    rows = [["mobile", "name"]] + [[f"070-{rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                                     _name(rng)] for _ in range(5_000)]
    swept, one_by_one = _both(_csv(rows), "m.csv", monkeypatch)
    assert PHONE in {s.entity for s in swept.swept}
    assert _summary(swept) == _summary(one_by_one)
    first = [f for f in one_by_one.findings if f.entity == PHONE and f.location.record == 2]
    second = [f for f in one_by_one.findings if f.entity == PHONE and f.location.record == 3]
    assert first and second and first[0].score == second[0].score


@pytest.mark.parametrize("layout", ["+46 70 ddd dd dd", "0046-70-ddd dd dd", "(070) ddd-dd-dd", "+31 (6) dddd.dddd",
                                    "06/dddddddd", "+1 ddd ddd dddd"])
def test_phones_of_a_fixed_layout_are_numbered_as_one_by_one(layout: str) -> None:
    """The bytes-as-a-matrix normalisation of a fixed layout gives what ``masking.normalize`` gives each value
    (the same number for the same phone, however it was found)."""
    import pyarrow as pa

    from detectors.masking import normalize

    rng = random.Random(23)
    pattern = "^" + "".join(r"\d" if c == "d" else re.escape(c) for c in layout) + "$"
    shape = Shape(pattern, "phone", remove=" .-/()")
    values = ["".join(str(rng.randint(0, 9)) if c == "d" else c for c in layout) for _ in range(50)]
    array = pa.array(["x"] + values)[1:]  # a slice: its offsets do not start at 0
    assert sweep._normalised(array, shape, PHONE).to_pylist() == [normalize(PHONE, v) for v in values]


def test_a_fixed_layout_matches_the_cells_re2_matches() -> None:
    """Fixed layouts are matched a column of bytes at a time; RE2 on the same cells agrees, for cells of the
    layout, near misses (a character off, one too many or too few, a non-ASCII digit) and nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = random.Random(24)
    for _ in range(40):
        layout = "".join(rng.choice("dddd +-.()/0") for _ in range(rng.randint(4, 16)))
        pattern = "^" + "".join(r"\d" if c == "d" else re.escape(c) for c in layout) + "$"
        cells: list[str | None] = [None, ""]
        for _ in range(300):
            cell = "".join(str(rng.randint(0, 9)) if c == "d" else c for c in layout)
            change = rng.random()
            if change < 0.2:
                at = rng.randrange(len(cell))
                cell = cell[:at] + rng.choice("7 x-٣+") + cell[at + 1:]
            elif change < 0.3:
                cell = cell[:-1] if rng.random() < 0.5 else cell + "1"
            cells.append(cell)
        values = pa.array(cells, pa.string()).slice(1)
        shape = Shape(pattern, "phone")
        expected = pc.fill_null(pc.match_substring_regex(values, pattern), False).to_pylist()
        assert sweep.matches(values, shape).to_pylist() == expected, layout


def _ascii_cells(rng: random.Random, count: int) -> list[str]:
    """ASCII cells of name-like and not at all name-like kinds: words, doubled and trailing spaces, the
    punctuation names have, digits, control characters Arrow trims as whitespace."""
    pieces = ["Ann", "de", "O'Neil", "Jean-Luc", "J.", "x", " ", "  ", "-", "'", ".", "7", "\x0b", "\x1c", "\r", "@",
              "Zoë".encode("ascii", "ignore").decode(), "", "z"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 7))) for _ in range(count)]


def test_ascii_name_cells_are_judged_as_re2_and_arrow_judge_them() -> None:
    """The byte-at-a-time checks of an ASCII column give RE2's answer for the name shape, Arrow's for what is
    more than whitespace, and Arrow's split for the first word: on slices (offsets not at 0) and nulls too."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = random.Random(25)
    shape = Shape.of_words(5, "'’.-", "lower", 20)
    for _ in range(30):
        cells: list[str | None] = ["pad", *_ascii_cells(rng, 300), None, "Ann Berg"]
        values = pa.array(cells, pa.string()).slice(1)
        expected = pc.and_(pc.fill_null(pc.match_substring_regex(values, shape.pattern), False),
                           pc.less_equal(pc.binary_length(values), 20))
        assert sweep.matches(values, shape, ascii=True).to_pylist() == pc.fill_null(expected, False).to_pylist()
        cells_ = sweep._AsciiCells(values)
        trimmed = pc.not_equal(pc.utf8_trim_whitespace(values), pa.scalar("", pa.string()))
        assert cells_.filled().tolist() == pc.fill_null(trimmed, False).to_pylist()
        valid = [c is not None for c in cells[1:]]
        first = pc.list_element(pc.split_pattern(values, " ", max_splits=1), pa.scalar(0, pa.int32())).to_pylist()
        assert [w for w, ok in zip(cells_.first_words().to_pylist(), valid, strict=True) if ok] == \
            [w for w, ok in zip(first, valid, strict=True) if ok]



def test_values_are_numbered_alike_across_pieces_whichever_way_they_are_looked_up() -> None:
    """A piece after a few values (looked up together with them) or after many (looked up among them): the same
    value, the same number; a new value, the next number."""
    import pyarrow as pa

    rng = random.Random(26)
    pieces = [[f"v{rng.randint(0, 300)}" for _ in range(size)] for size in (10, 500, 40, 2_000, 5, 1_000)]
    values = sweep.Values()
    seen: dict[str, int] = {}
    for piece in pieces:
        numbers = values.ids(EMAIL, pa.array(piece, pa.string()))
        for value, number in zip(piece, numbers.tolist(), strict=True):
            assert seen.setdefault(value, len(seen)) == number, value
    assert values.ids(PHONE, pa.array(["v1"], pa.string())).tolist() == [0]  # one series per detector
    assert values.ids(EMAIL, pa.array([], pa.string())).tolist() == []
    assert values.ids(PERSON, pa.array([], pa.string())).tolist() == []  # (nothing of it seen before)


def test_names_are_lower_cased_as_python_does_whatever_their_script() -> None:
    """Arrow lower-cases most names; where it would differ from Python (final sigma, dotted İ, letters one of
    them knows and the other not) Python does: the same name, the same number, swept or one by one."""
    import pyarrow as pa

    from detectors.masking import normalize

    names = ["ΟΔΥΣΣΕΑΣ Παπας", "İsmail Öz", "Åsa Öberg", "ÅSA ÖBERG", "Σίσυφος", "José Ñúñez", "Dž Ǆ", "ǅemal Ǉ",
             "Straße GROSS", "ῼ ᾈ", "Anna Berg", "ΑΣ ΣΑΣ"]
    shape = Shape.of_words(5, "'’.-", "lower", 60)
    assert sweep._normalised(pa.array(names), shape, PERSON).to_pylist() == [normalize(PERSON, n) for n in names]
