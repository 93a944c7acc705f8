"""Recognizers for values known by their column, not their shape: postal addresses and names.

A street address or a person's name has no checksum and no fixed format, but
in a table whose column is headed "Address" (Adress, Adres, Anschrift…) or
"Full name" (Namn, Naam, Vorname…), or in a JSON field of that name, the values
are addresses or names. The recognizers read the header from the first record
of tab-separated text (how tables and JSON records reach the scanner); in prose
they find nothing.

A header alone can mislead ("Name" heads product lists too), so a name column
also has to pass column statistics on a sample of its values: most look like
names (letters, one to five words), and for a generic header most also start
with a common given name.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors import entities
from detectors.findings import Shape, Statistics
from detectors.prefilter import Scope, Trigger
from detectors.recognizers.base import DetourRecognizer

ADDRESS_HEADERS = ("address", "street", "home address", "postal address", "mailing address", "adress",
                   "gatuadress", "postadress", "hemadress", "adres", "straat", "woonadres", "postadres",
                   "anschrift", "straße", "strasse", "addr", "adresse", "adressen", "rue", "dirección", "direccion",
                   "domicilio", "calle", "indirizzo", "morada", "endereço", "endereco", "adresa", "osoite")
_HEADER = regex.compile(r"^(?:[\w .]*[ _.\-])?(?:" + "|".join(regex.escape(h) for h in ADDRESS_HEADERS)
                        + r")(?:[ _.\-]?(?:line)?[ _.\-]?1?)?$", regex.IGNORECASE)
# "IP address", "MAC address", "e-mail address", "wallet address"… are not where someone lives.
_NOT_POSTAL = regex.compile(r"\b(?:ip|ipv4|ipv6|mac|e-?mail|mail|web|url|wallet|server|host|network|bitcoin|"
                            r"eth|crypto|memory|hardware|billing e-?mail)\b", regex.IGNORECASE)
_KEY_VALUE = regex.compile(r"^(?P<key>[\w .\-]{1,40}): (?P<value>.+)$")
_SAMPLE = 200  # records whose values the column statistics look at
MIN_STREET_SHARE = 0.5  # share of an address column's values that look like a street and house number


def is_address_header(name: str) -> bool:
    name = name.strip().replace("_", " ")
    return bool(_HEADER.match(name)) and not (_NOT_POSTAL.search(name) and "mailing" not in name.lower())


def looks_like_street(value: str) -> bool:
    """A house number and a street name: at least one digit and three letters, not just a number."""
    letters = sum(ch.isalpha() for ch in value)
    return any(ch.isdigit() for ch in value) and letters >= 3 and len(value) <= 120 and "@" not in value


class _ColumnRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    """Values of the columns (tables) or fields (JSON records) whose name and statistics say what they hold.

    The statistics run on a sample of the first records; a part without such a column costs one
    pass over the sample.
    """

    SCORE = 0.8

    def load(self) -> None:
        pass

    def field_kind(self, name: str) -> str | None:
        """What a column or field of this name holds (a kind the statistics understand), or None."""
        raise NotImplementedError

    def accept(self, values: list[str], kind: str) -> bool:
        """Whether a sample of a column's values holds what its name says."""
        raise NotImplementedError

    def value_ok(self, value: str) -> bool:
        raise NotImplementedError

    def column_cell(self, value: str) -> tuple[int, int, float] | None:
        stripped = value.strip()
        if not stripped or not self.value_ok(stripped):
            return None
        start = value.index(stripped)
        return start, start + len(stripped), self.SCORE

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        if "\t" not in text and ": " not in text:
            return []
        first_end = text.find("\n")
        header = text[: first_end if first_end >= 0 else len(text)].split("\t")
        columns: dict[int, str] = {i: kind for i, name in enumerate(header) if (kind := self.field_kind(name))}
        body = first_end + 1 if columns and first_end >= 0 else 0
        sample_end = _after_lines(text, body, _SAMPLE)
        keys: dict[str, str | None] = {}
        cells = self._collect(text, body, sample_end, columns, keys, discover=True)
        kinds: dict[int | str, str] = {k: v for k, v in keys.items() if v}
        for column, kind in columns.items():
            kinds[column] = kind
        # A column with (almost) nothing in the sample is judged on its first values further down.
        sparse = {f for f, found in cells.items() if sum(1 for _, v in found if v.strip()) < 2}
        sparse |= {c for c in columns if c not in cells}
        accepted = {f for f, found in cells.items()
                    if f not in sparse and self.accept([v.strip() for _, v in found], kinds[f])}
        wanted = accepted | sparse
        if not wanted:
            return []
        rest: dict[int | str, list[tuple[int, str]]] = {}
        if sample_end < len(text):
            rest = self._collect(text, sample_end, len(text), {c: k for c, k in columns.items() if c in wanted},
                                 {k: v for k, v in keys.items() if k in wanted}, discover=False)
        for field in sparse:
            values = [v.strip() for _, v in cells.get(field, []) + rest.get(field, []) if v.strip()]
            if self.accept(values[:_SAMPLE], kinds[field]):
                accepted.add(field)
        results: list[RecognizerResult] = []
        for field in accepted:
            for start, value in cells.get(field, []) + rest.get(field, []):
                stripped = value.strip()
                if stripped and self.value_ok(stripped):
                    begin = start + value.index(stripped)
                    results.append(RecognizerResult(self.supported_entities[0], begin, begin + len(stripped),
                                                    self.SCORE))
        return results

    def _collect(self, text: str, start: int, end: int, columns: dict[int, str], keys: dict[str, str | None],
                 discover: bool) -> dict[int | str, list[tuple[int, str]]]:
        """The cells of ``columns`` and the values of named fields in the records of ``text[start:end]``."""
        found: dict[int | str, list[tuple[int, str]]] = defaultdict(list)
        offset = start
        for line in text[start:end].split("\n"):
            position = offset
            for column, cell in enumerate(line.split("\t")):
                if column in columns:
                    found[column].append((position, cell))
                elif ": " in cell and (match := _KEY_VALUE.match(cell)):
                    key = match.group("key")
                    if key not in keys and discover:
                        keys[key] = self.field_kind(key)
                    if keys.get(key):
                        found[key].append((position + match.start("value"), match.group("value")))
                position += len(cell) + 1
            offset += len(line) + 1
        return found


def _after_lines(text: str, start: int, count: int) -> int:
    """The offset after ``count`` lines from ``start`` (or the end of the text)."""
    position = start
    for _ in range(count):
        newline = text.find("\n", position)
        if newline < 0:
            return len(text)
        position = newline + 1
    return position


class StreetAddressRecognizer(_ColumnRecognizer):
    # Every header and field name above contains one of these: a part without them has no address column.
    TRIGGERS = (Trigger("addr|adres|street|straat|anschrift|strasse|stra\u00dfe|rue|direcci|domicilio|calle|"
                        "indirizzo|morada|endere|osoite", scope=Scope.PART, caseless=True),)

    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.STREET_ADDRESS], name="StreetAddressRecognizer",
                         context=["address", "adress", "adres", "anschrift"])

    def field_kind(self, name: str) -> str | None:
        return "address" if is_address_header(name) else None

    def accept(self, values: list[str], kind: str) -> bool:
        present = [v for v in values if v]
        return bool(present) and sum(map(looks_like_street, present)) >= MIN_STREET_SHARE * len(present)

    def value_ok(self, value: str) -> bool:
        return looks_like_street(value)


# --- person names -----------------------------------------------------------------------

# Headers that always mean a person's name, in English, Swedish, Dutch and German.
PERSON_HEADERS = frozenset({
    "full name", "fullname", "first name", "firstname", "given name", "forename", "last name", "lastname", "surname",
    "family name", "middle name", "contact name", "contact person", "customer name", "client name", "employee name",
    "employee", "person", "person name", "attendee", "participant", "patient", "patient name", "member name",
    "förnamn", "efternamn", "fullständigt namn", "kontaktperson", "kundnamn", "deltagare", "anställd",
    "voornaam", "achternaam", "volledige naam", "contactpersoon", "klantnaam", "deelnemer", "tussenvoegsel",
    "vorname", "nachname", "familienname", "vollständiger name", "ansprechpartner", "kundenname", "teilnehmer",
    # and the neighbours a held-out export may come in: French, Spanish, Italian, Danish/Norwegian, Finnish
    "prénom", "prenom", "nom de famille", "nom complet", "apellido", "apellidos", "nombre completo", "cognome",
    "nome completo", "fornavn", "efternavn", "etternavn", "etunimi", "sukunimi", "fuld navn",
})
# Headers that may mean a person's name or anything else's: the values must start with given names.
GENERIC_HEADERS = frozenset({"name", "namn", "naam", "contact", "kontakt", "names", "namen", "customer", "kund",
                             "klant", "kunde", "nom", "nombre", "nome", "navn", "nimi", "client", "cliente"})
_NOT_A_PERSON = regex.compile(
    r"\b(?:product|company|file|host|user|account|project|item|article|category|brand|domain|server|app|org|"
    r"organi[sz]ation|business|firm|företag|bolag|produkt|bedrijf|firma|artikel|city|town|stad|stadt|street|bank|"
    r"campaign|team|department|avdelning|afdeling|abteilung|screen|display|shop|store|vendor|supplier|"
    r"leverantör|leverancier|lieferant|event|course|school|list|group|grupp|groep|gruppe)\w*\b"
)
PERSON_WORDS = "nam|person|contact|kontakt|attendee|participant|patient|employee|deltagare|deelnemer|teilnehmer|" \
               "ansprechpartner|anst\u00e4lld|surname|forename|kund|klant|kunde|customer|client|nom|nimi|navn|" \
               "apellido|cognome|fornavn|efternavn|etternavn"
_NAME_WORD = regex.compile(r"^[\p{L}][\p{L}'’.\-]*$")
_NAME_LENGTH = 60  # characters at most in a name
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "het", "ter", "ten", "af", "la", "le", "di", "da", "du",
                        "del", "dos", "das", "zu", "y"})
MIN_SHAPE_SHARE = 0.7  # share of a column's values that look like names
MIN_GIVEN_SHARE = 0.4  # for a generic header: share that also start with a common given name


def person_header(name: str) -> str | None:
    """'strict' or 'generic' when a column or field of this name holds person names, else None."""
    words = regex.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.strip())  # firstName -> first Name
    words = " ".join(regex.split(r"[\s_.\-]+", words.lower())).strip()
    if not words or _NOT_A_PERSON.search(words):
        return None
    if words in PERSON_HEADERS:
        return "strict"
    if words in GENERIC_HEADERS:
        return "generic"
    return None


def looks_like_name(value: str) -> bool:
    words = value.split()
    return 1 <= len(words) <= 5 and len(value) <= _NAME_LENGTH and all(_NAME_WORD.match(w) for w in words)


@cache
def given_names() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "given_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def starts_with_given_name(value: str) -> bool:
    known = given_names()
    words = [unicodedata.normalize("NFC", w).lower().strip(".") for w in value.replace(",", " ").split()]
    # "Anna Berg", "Berg, Anna", "Dr. Anna Berg": a given name among the first words
    return any(w in known for w in words[:3] if w not in _PARTICLES)


def is_name_column(values: list[str], kind: str) -> bool:
    sample = [v for v in values[:_SAMPLE] if v]
    if len(sample) < 2:
        return False
    shaped = [v for v in sample if looks_like_name(v)]
    if len(shaped) < MIN_SHAPE_SHARE * len(sample):
        return False
    if kind == "strict":
        return True
    needed, misses_allowed = MIN_GIVEN_SHARE * len(sample), len(shaped) - MIN_GIVEN_SHARE * len(sample)
    hits = misses = 0
    for value in shaped:  # stops as soon as the answer is known
        if starts_with_given_name(value):
            hits += 1
            if hits >= needed:
                return True
        else:
            misses += 1
            if misses > misses_allowed:
                return False
    return hits >= needed


class PersonColumnRecognizer(_ColumnRecognizer):
    """Person names in name columns (tables) and name fields (JSON records), checked by column statistics."""

    TRIGGERS = (Trigger(PERSON_WORDS, scope=Scope.PART, caseless=True),)

    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.PERSON], name="PersonColumnRecognizer",
                         context=["name", "namn", "naam"])

    def field_kind(self, name: str) -> str | None:
        return person_header(name.rsplit(".", 1)[-1])

    def accept(self, values: list[str], kind: str) -> bool:
        return is_name_column(values, kind)

    def value_ok(self, value: str) -> bool:
        return looks_like_name(value)

    def column_statistics(self, header: str) -> Statistics | None:
        kind = self.field_kind(header)
        if kind is None:
            return None
        if kind == "strict":
            return Statistics(MIN_SHAPE_SHARE, window=_SAMPLE)
        return Statistics(MIN_SHAPE_SHARE, MIN_GIVEN_SHARE, given_names(), _SAMPLE)

    def column_shapes(self, values: list[str]) -> Sequence[Shape] | None:
        """A name column (accepted by its statistics): one to five words of letters, single-spaced."""
        return [Shape.of_words(5, "'’.-", "lower", _NAME_LENGTH)]
