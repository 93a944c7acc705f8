"""Reading HTTP bodies, the same for ICAP, /v1/intercept and /v1/inspect: files, fields, limits, bad forms."""

from __future__ import annotations

import hashlib

import pytest

from gateway.proxy.body import (
    MAX_FILES,
    MAX_FORM_FIELDS,
    BodyReader,
    HttpRequestHead,
    disposition_filename,
    request_file_name,
)


def form(*parts: tuple[str, str | None, bytes], boundary: str = "b0und") -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def read(content_type: str, body: bytes, limit: int = 1000, step: int = 7) -> BodyReader:
    reader = BodyReader(content_type, limit, "raw.bin")
    for i in range(0, len(body), step):  # as it arrives, in small pieces
        reader.feed(body[i : i + step])
    return reader


@pytest.mark.parametrize(("header", "name"), [
    ('attachment; filename="a b.csv"', "a b.csv"),
    ("attachment; filename*=UTF-8''kunder%C3%A5.csv", "kunderå.csv"),
    ("attachment; filename=\"plain.csv\"; filename*=UTF-8''r%C3%A4tt.csv", "rätt.csv"),  # RFC 6266: * wins
    ("form-data; name=\"file\"; filename=\"\"", ""),
    ("inline", None),
])
def test_the_file_name_of_a_content_disposition(header: str, name: str | None) -> None:
    assert disposition_filename(header) == name


def test_a_form_gives_its_files_and_fields_streamed_in_small_pieces() -> None:
    body = form(("note", None, "hej då".encode()), ("file", "a.csv", b"x" * 300), ("file", "b.csv", b"y"))
    with read("multipart/form-data; boundary=b0und", body) as reader:
        result = reader.finish()
        assert result.problem is None and result.fields == [("note", "hej då")]
        assert [(f.name, f.content().data) for f in result.files] == [("a.csv", b"x" * 300), ("b.csv", b"y")]


def test_a_file_over_the_limit_keeps_its_true_size_and_digest_but_not_its_bytes() -> None:
    data = b"z" * 5000
    with read("multipart/form-data; boundary=b0und", form(("file", "big.bin", data)), limit=100) as reader:
        [big] = reader.finish().files
        content = big.content()
        assert (content.size, content.sha256, len(content.data)) == (5000, hashlib.sha256(data).hexdigest(), 101)


@pytest.mark.parametrize(("content_type", "body", "problem"), [
    ("multipart/form-data", b"--x\r\n\r\n", "no boundary"),
    ("multipart/form-data; boundary=b0und", form(("file", "a.csv", b"abc"))[:-12], "ends before its last boundary"),
    ("multipart/form-data; boundary=b0und", b"--b0und\r\nContent-Disposition: form-data\r\nbroken", "form"),
])
def test_a_form_that_does_not_parse_says_so(content_type: str, body: bytes, problem: str) -> None:
    with read(content_type, body) as reader:
        assert problem in (reader.finish().problem or "")


def test_more_files_than_can_be_checked_make_the_form_unreadable() -> None:
    parts = [("file", f"f{i}.txt", b"x") for i in range(MAX_FILES + 1)]
    with read("multipart/form-data; boundary=b0und", form(*parts), step=4096) as reader:
        result = reader.finish()
        assert result.problem is not None and str(MAX_FILES) in result.problem
        assert len(result.files) == MAX_FILES  # what was counted beyond the cap was never kept


def test_an_empty_form_uploads_nothing() -> None:
    with read("multipart/form-data; boundary=b0und", b"") as reader:
        result = reader.finish()
        assert result.problem is None and not result.files and not result.fields


def test_a_raw_body_is_one_file_and_a_urlencoded_form_its_fields() -> None:
    with read("application/octet-stream", b"\x00\x01data") as reader:
        [raw] = reader.finish().files
        assert (raw.name, raw.content().data) == ("raw.bin", b"\x00\x01data")
    with read("application/x-www-form-urlencoded", b"q=hello+world&empty=&to=anna%40example.com") as reader:
        assert reader.finish().fields == [("q", "hello world"), ("empty", ""), ("to", "anna@example.com")]


def test_the_name_of_a_raw_request_body() -> None:
    head = HttpRequestHead("PUT", "https://files.example/up/kund%20lista.csv?sig=abc", [])
    assert request_file_name(head) == "kund lista.csv"
    disposition = ("Content-Disposition", 'attachment; filename="x.csv"')
    named = HttpRequestHead("PUT", "https://files.example/up/", [disposition])
    assert request_file_name(named) == "x.csv"
    assert request_file_name(HttpRequestHead("POST", "https://files.example/", [])) == "upload"


@pytest.mark.parametrize(("content_type", "body", "limit", "problem"), [
    ("multipart/form-data; boundary=b0und", form(*[(f"f{i}", None, b"x") for i in range(MAX_FORM_FIELDS + 1)]),
     100_000, "more than 1000 fields"),
    ("multipart/form-data; boundary=b0und", form(("a", None, b"x" * 600), ("b", None, b"y" * 600)), 1000,
     "longer than the upload limit"),
    ("application/x-www-form-urlencoded", b"q=" + b"x" * 2000, 1000, "longer than the upload limit"),
    ("application/x-www-form-urlencoded", b"&".join(b"f%d=x" % i for i in range(MAX_FORM_FIELDS + 1)), 100_000,
     "more than 1000 fields"),
])
def test_form_fields_that_cant_all_be_checked_make_the_form_unreadable(content_type: str, body: bytes, limit: int,
                                                                       problem: str) -> None:
    """Text typed into a form is content too: none of it may be skipped unseen."""
    with read(content_type, body, limit=limit, step=4096) as reader:
        assert problem in (reader.finish().problem or "")


def test_a_body_sent_as_a_form_that_is_no_form_is_kept_whole() -> None:
    """`curl --data-binary @list.csv` sends the file as application/x-www-form-urlencoded: no `=` anywhere."""
    csv = b"name,email\nAnna,anna@example.com\nBo,bo@example.com\n"
    with read("application/x-www-form-urlencoded", csv) as reader:
        [(name, value)] = reader.finish().fields
        assert "anna@example.com" in name and "bo@example.com" in name and value == ""


@pytest.mark.parametrize(("header", "name"), [
    ('form-data; name="file"; filename="C:\\Users\\bo\\kunder.csv"', "kunder.csv"),  # a client's folders
    ("attachment; filename*=unicode_escape''%5Cud800.csv", "ud800.csv"),  # not a surrogate: utf-8, a \\ folder
    ('attachment; filename="a\x07b.csv"', "ab.csv"),
])
def test_file_names_are_cleaned(header: str, name: str) -> None:
    assert disposition_filename(header) == name


@pytest.mark.parametrize("header", ["attachment; filename*=x; filename*0*=y", "attachment; filename=\"unterminated"])
def test_a_disposition_that_does_not_parse_still_names_a_file(header: str) -> None:
    assert disposition_filename(header) is not None  # a file part: its content is inspected, whatever its name


def test_a_boundary_the_parser_refuses_makes_the_form_unreadable() -> None:
    with read("multipart/form-data; boundary=" + "b" * 300, b"--" + b"b" * 300 + b"\r\n") as reader:
        assert "boundary" in (reader.finish().problem or "")


def test_a_url_that_does_not_parse_gives_a_plain_name() -> None:
    assert request_file_name(HttpRequestHead("POST", "http://[::1/upload", [])) == "upload"
