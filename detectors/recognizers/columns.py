"""Recognizers for values known by their column, not their shape: postal addresses.

A street address has no checksum and no fixed format, but in a table whose
column is headed "Address" (Adress, Adres, Anschrift, Straße…) or in a JSON
field of that name, the values are addresses. The recognizer reads the header
from the first record of tab-separated text (how tables and JSON records reach
the scanner); in prose it finds nothing.
"""

from __future__ import annotations

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors import entities

ADDRESS_HEADERS = ("address", "street", "home address", "postal address", "mailing address", "adress",
                   "gatuadress", "postadress", "hemadress", "adres", "straat", "woonadres", "postadres",
                   "anschrift", "straße", "strasse", "addr")
_HEADER = regex.compile(r"^(?:[\w .]*[ _.\-])?(?:" + "|".join(regex.escape(h) for h in ADDRESS_HEADERS)
                        + r")(?:[ _.\-]?(?:line)?[ _.\-]?1?)?$", regex.IGNORECASE)
# "IP address", "MAC address", "e-mail address", "wallet address"… are not where someone lives.
_NOT_POSTAL = regex.compile(r"\b(?:ip|ipv4|ipv6|mac|e-?mail|mail|web|url|wallet|server|host|network|bitcoin|"
                            r"eth|crypto|memory|hardware|billing e-?mail)\b", regex.IGNORECASE)
_KEY_VALUE = regex.compile(r"^(?P<key>[\w .\-]{1,40}): (?P<value>.+)$")


def is_address_header(name: str) -> bool:
    name = name.strip().replace("_", " ")
    return bool(_HEADER.match(name)) and not (_NOT_POSTAL.search(name) and "mailing" not in name.lower())


def looks_like_street(value: str) -> bool:
    """A house number and a street name: at least one digit and three letters, not just a number."""
    letters = sum(ch.isalpha() for ch in value)
    return any(ch.isdigit() for ch in value) and letters >= 3 and len(value) <= 120 and "@" not in value


class StreetAddressRecognizer(EntityRecognizer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.STREET_ADDRESS], name="StreetAddressRecognizer",
                         context=["address", "adress", "adres", "anschrift"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        if "\t" not in text and ": " not in text:
            return []
        first_end = text.find("\n")
        header = text[: first_end if first_end >= 0 else len(text)].split("\t")
        columns = {i for i, name in enumerate(header) if is_address_header(name)}
        results: list[RecognizerResult] = []
        offset = 0
        for line_number, line in enumerate(text.split("\n")):
            position = offset
            for column, cell in enumerate(line.split("\t")):
                value_start, value = position, cell
                match = _KEY_VALUE.match(cell)
                in_column = column in columns and line_number > 0
                if match and is_address_header(match.group("key")):
                    value_start, value = position + match.start("value"), match.group("value")
                    in_column = True
                if in_column and looks_like_street(value.strip()):
                    stripped = value.strip()
                    start = value_start + value.index(stripped)
                    results.append(RecognizerResult(self.supported_entities[0], start, start + len(stripped), 0.8))
                position += len(cell) + 1
            offset += len(line) + 1
        return results
