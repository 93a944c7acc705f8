"""ICAP on the wire, without sockets: what the request lines, headers and chunk sizes mean; what answers look like."""

from __future__ import annotations

import pytest

from gateway.errors import ProtocolError
from gateway.icap import protocol


def test_a_request_line_and_its_headers() -> None:
    request = protocol.parse_request_line(b"REQMOD icap://proxy.example:1344/reqmod?x=1 ICAP/1.0")
    request.add_header(b"Encapsulated: req-hdr=0, req-body=120")
    request.add_header(b"Allow: 204")
    assert (request.method, request.service, request.header("allow")) == ("REQMOD", "reqmod", "204")
    assert protocol.parse_encapsulated(request.header("encapsulated")) == {"req-hdr": 0, "req-body": 120}


@pytest.mark.parametrize("line", [b"REQMOD icap://x/reqmod HTTP/1.1", b"REQMOD /reqmod ICAP/1.0", b"GARBAGE"])
def test_a_malformed_request_line_is_a_400(line: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_request_line(line)
    assert caught.value.status == 400


def test_an_unknown_service_is_a_404() -> None:
    request = protocol.parse_request_line(b"OPTIONS icap://x/avscan ICAP/1.0")
    with pytest.raises(ProtocolError) as caught:
        request.check_service()
    assert caught.value.status == 404


@pytest.mark.parametrize(("sections", "size"), [({"req-hdr": 0, "req-body": 50}, 50),
                                                ({"req-hdr": 0, "null-body": 7}, 7)])
def test_the_http_head_size(sections: dict[str, int], size: int) -> None:
    assert protocol.http_head_size(sections) == size


@pytest.mark.parametrize("sections", [{"req-body": 10}, {"req-hdr": 50, "req-body": 10},
                                      {"req-hdr": 0, "req-body": protocol.MAX_HEADER_BYTES + 1}])
def test_an_impossible_or_unbounded_head_is_refused(sections: dict[str, int]) -> None:
    with pytest.raises(ProtocolError):
        protocol.http_head_size(sections)


@pytest.mark.parametrize(("line", "expected"), [(b"1a", (26, False)), (b"0; ieof", (0, True)),
                                                (b"FF;ext=1", (255, False))])
def test_chunk_sizes(line: bytes, expected: tuple[int, bool]) -> None:
    assert protocol.parse_chunk_size(line) == expected


@pytest.mark.parametrize("line", [b"zz", b"-5", b"", b"0x5", b"+5", b"1_0", b" 5", b"12345678901234567"])
def test_a_bad_chunk_size_is_a_400(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_chunk_size(line)


def test_a_block_answer_encapsulates_the_http_response() -> None:
    answer = protocol.http_response('"tag"', "HTTP/1.1 403 Forbidden", [("X-Detour-Decision", "DTR-1")], b"page")
    head, http = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"ICAP/1.0 200 OK") and b'ISTag: "tag"' in head
    offset = int(head.split(b"res-body=")[1].split(b"\r\n")[0])
    assert http[:offset].startswith(b"HTTP/1.1 403 Forbidden\r\nX-Detour-Decision: DTR-1\r\n")
    assert http[offset:] == b"4\r\npage\r\n0\r\n\r\n"


@pytest.mark.parametrize("headers", [
    [b"Encapsulated: req-hdr=0, req-body=10", b"Encapsulated: req-hdr=0, null-body=10"],
    [b"Preview: abc"],
    [b"Preview: \xb2"],
    [b" Allow: 204"],
])
def test_ambiguous_or_malformed_headers_are_a_400(headers: list[bytes]) -> None:
    request = protocol.parse_request_line(b"REQMOD icap://x/reqmod ICAP/1.0")
    with pytest.raises(ProtocolError):
        for line in headers:
            request.add_header(line)


def test_an_offset_that_is_not_ascii_digits_is_a_400() -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_encapsulated("req-hdr=0, req-body=\xb2")
