"""Text extraction: true type, any common encoding, tables with any delimiter, JSON records."""

from __future__ import annotations

import pytest

from detectors.extract import extract, fresh_context
from detectors.findings import Layout, Part, Skipped
from detectors.limits import Limits

TEXT = "Kund: Åsa Öberg, gatan 5 — café\nRad två\n"


def _items(blob: bytes, name: str = "upload") -> list[Part | Skipped]:
    return list(extract(blob, name, fresh_context(Limits())))


def _parts(blob: bytes, name: str = "upload") -> list[Part]:
    items = _items(blob, name)
    assert all(isinstance(i, Part) for i in items), items
    return [i for i in items if isinstance(i, Part)]


@pytest.mark.parametrize(
    "blob",
    [
        TEXT.encode("utf-8"),
        TEXT.encode("utf-8-sig"),
        TEXT.encode("utf-16"),  # with BOM
        TEXT.encode("utf-16-le"),
        TEXT.encode("cp1252", errors="replace").replace(b"?", b"-"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-16le-no-bom", "cp1252"],
)
def test_decodes_common_encodings(blob: bytes) -> None:
    (part,) = _parts(blob)
    assert "Åsa Öberg" in part.text and "café" in part.text
    assert part.layout is Layout.PROSE


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_tables_with_any_delimiter_become_rows_of_cells(delimiter: str) -> None:
    rows = [["name", "email", "phone"], ["Ann", "ann@example.com", "070-123 45 67"], ["Bo", "bo@example.com", ""]]
    blob = "\n".join(delimiter.join(r) for r in rows).encode()
    (part,) = _parts(blob)
    assert part.layout is Layout.TABLE
    assert part.header == ("name", "email", "phone")
    assert part.text.split("\n")[1] == "Ann\tann@example.com\t070-123 45 67"


@pytest.mark.parametrize("first", ["Ann", "Åsa"], ids=["ascii", "not-ascii"])
@pytest.mark.parametrize("delimiter", [",", ";", "|"])
def test_a_tab_inside_a_cell_of_an_unquoted_table_is_a_space(first: str, delimiter: str) -> None:
    """ASCII tables are translated as bytes, others as text: the same cells either way."""
    rows = [["name", "note", "phone"], [first, "a\tb", "070-123 45 67"], ["Bo", "", "x"]]
    (part,) = _parts(("\r\n".join(delimiter.join(r) for r in rows) + "\r\n").encode())
    assert part.layout is Layout.TABLE
    assert part.text.split("\n") == ["name\tnote\tphone", f"{first}\ta b\t070-123 45 67", "Bo\t\tx"]


def test_an_unquoted_table_of_too_many_rows_is_unscannable() -> None:
    blob = ("a,b\n" + "1,2\n" * 20).encode()
    (item,) = list(extract(blob, "t.csv", fresh_context(Limits(max_records=20))))
    assert isinstance(item, Skipped) and "more than 20 rows" in item.reason
    (part,) = list(extract(blob, "t.csv", fresh_context(Limits(max_records=22))))
    assert isinstance(part, Part) and part.text.count("\n") == 20


def test_quoted_cells_with_delimiters_and_newlines_stay_in_their_row() -> None:
    blob = b'name,company,email\n"Cole, Ann","Lynch\nand Jones",ann@example.com\nBo,X,bo@example.com\n'
    (part,) = _parts(blob)
    assert part.text.split("\n")[1] == "Cole, Ann\tLynch and Jones\tann@example.com"


def test_type_comes_from_content_not_the_file_name() -> None:
    blob = b"name;email\nAnn;ann@example.com\nBo;bo@example.com\n"
    (part,) = _parts(blob, name="holiday.png")
    assert part.layout is Layout.TABLE and part.origin == "holiday.png"


def test_json_objects_become_records_with_field_names() -> None:
    blob = b'[{"name": "Ann", "contact": {"email": "ann@example.com"}}, {"name": "Bo", "tags": ["a", "b"]}]'
    (part,) = _parts(blob)
    assert part.layout is Layout.STRUCTURED
    assert part.text.split("\n") == ["name: Ann\temail: ann@example.com", "name: Bo\ttags: a, b"]


def test_json_lines_are_records() -> None:
    (part,) = _parts(b'{"email": "ann@example.com"}\n{"email": "bo@example.com"}\n')
    assert part.text.split("\n") == ["email: ann@example.com", "email: bo@example.com"]


def test_broken_json_is_still_scanned_as_text() -> None:
    (part,) = _parts(b'{"email": "ann@example.com", ')
    assert part.layout is Layout.PROSE and "ann@example.com" in part.text


def test_deeply_nested_json_is_unscannable_not_a_crash() -> None:
    (item,) = _items(b"[" * 5000 + b"]" * 5000)
    assert isinstance(item, Skipped) and "nested too deeply" in item.reason


def test_prose_with_commas_is_not_a_table() -> None:
    blob = b"Well, this is a sentence, with commas, that goes on.\nAnd another, also with commas, here.\n"
    (part,) = _parts(blob)
    assert part.layout is Layout.PROSE


def test_unknown_binary_formats_are_unscannable() -> None:
    (item,) = _items(bytes(range(256)) * 40)
    assert isinstance(item, Skipped) and "can't be read by Detour" in item.reason


def test_empty_upload_has_no_parts() -> None:
    assert _parts(b"") == []


@pytest.mark.parametrize("first_words", ["Article 5 of the agreement", "PS see below", "PA system booked",
                                         "BP results attached", "SP1 schedule", "NPI list for Q3", "MAC addresses",
                                         "Path: the shared drive", "Xref: budget"])
def test_text_that_looks_like_another_format_is_read_as_text(first_words: str) -> None:
    """libmagic guesses from the first word (HP-GL, a news posting, an audio file): text is still text."""
    blob = f"{first_words}.\nCall Anna on +46 70 123 45 67 about the budget.\n".encode()
    (part,) = _parts(blob)
    assert "+46 70 123 45 67" in part.text


def test_text_in_a_code_page_that_looks_like_another_format_is_read() -> None:
    (part,) = _parts("Article från Göteborg: ring Åsa.\n".encode("latin-1"))
    assert "Göteborg" in part.text and "Åsa" in part.text


@pytest.mark.parametrize("armoured", [
    b"-----BEGIN PGP MESSAGE-----\n\nhQEMA5XqZ3Yx0f9vAQf/VGhpcyBpcyBub3Q=\n-----END PGP MESSAGE-----\n",
    b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3Jn\n-----END AGE ENCRYPTED FILE-----\n",
    b"age-encryption.org/v1\n-> X25519 c2FtcGxl\n--- bWFj\n\x8f\x01\x99",
    b"$ANSIBLE_VAULT;1.1;AES256\n38633430613161353935343535363930\n",
], ids=["pgp", "age-armoured", "age", "ansible-vault"])
def test_text_wrapped_around_encrypted_data_is_unscannable(armoured: bytes) -> None:
    (item,) = _items(armoured, "secret.txt")
    assert isinstance(item, Skipped) and "encrypted" in item.reason


def test_binary_of_an_unknown_type_stays_unscannable() -> None:
    blob = bytes(range(256)) * 20
    (item,) = _items(blob, "blob.bin")
    assert isinstance(item, Skipped)
