"""Recognizers for personal data: contact details, payment cards, bank accounts, national IDs.

Checksummed identifiers are ``PatternRecognizer``s whose ``validate_result``
returns True (valid and unambiguous: score 1.0), None (valid but a bare digit
run that needs a context word: the pattern's low score stays) or False
(invalid: dropped). Phone numbers have no checksum; ``PhoneRecognizer`` scores
them by how phone-like their formatting is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import phonenumbers
import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from detectors import entities
from detectors.findings import Shape
from detectors.prefilter import Trigger
from detectors.recognizers.base import CERTAIN, SHAPE_ONLY, DetourRecognizer
from detectors.recognizers.checksums import (
    IBAN_LENGTHS,
    bsn_valid,
    digits,
    ean13_valid,
    gtin_valid,
    iban_valid,
    isbn10_valid,
    luhn_valid,
    personnummer_valid,
)

WEAK = 0.3  # valid but ambiguous: needs a context word
CASE_SENSITIVE = regex.MULTILINE
FILE_EXTENSIONS = frozenset("png jpg jpeg gif svg webp css js ico bmp tif tiff pdf zip mp4 mov".split())

# Tier-0 triggers (see detectors.prefilter): supersets of where each recognizer can match.
# Every number-shaped identifier is at least 7 digits, not glued to a word, '.', '_' or '-' on its
# left (like Presidio's word boundaries). A digit run ends where a non-digit follows, so a number is
# reported once per digit group, not once per digit.
DIGITS = Trigger(r"(?:^|[^0-9A-Za-z_.\-])[+(]? ?[0-9](?:[ .()\-/+]{0,3}[0-9]){6,}(?:[^0-9]|$)",
                 before=4, after=16, span_chars="0123456789 .()-/+")


class EmailRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    # Bytes \x80-\xff: the last byte of a non-ASCII letter (UTF-8) ending the local part (josé@).
    TRIGGERS = (Trigger(r"[A-Za-z0-9._%+\-\x80-\xff]@[A-Za-z0-9]", before=66, after=260),)
    PATTERNS = [
        Pattern(
            "email",
            r"(?<![\w.%+\-])[^\W_][\w.%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,10}"
            r"(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9\-]{1,59})(?![\w\-])",  # a TLD, or an internationalised one (xn--p1ai)
            0.5,
        )
    ]
    CONTEXT = ["email", "e-mail", "mail", "e-post", "epost", "mejl", "e-mailadres", "emailadres", "contact", "kontakt",
               "courriel", "correo", "posta", "sähköposti"]

    def __init__(self) -> None:
        super().__init__(entities.EMAIL_ADDRESS, name="EmailRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool:
        local, _, domain = pattern_text.rpartition("@")
        tld = domain.rsplit(".", 1)[-1].lower()
        return bool(local) and not local.endswith(".") and ".." not in pattern_text and tld not in FILE_EXTENSIONS

    def column_shapes(self, values: list[str]) -> Sequence[Shape] | None:
        """An e-mail column: addresses of the pattern's ASCII form, with the top-level domains seen in it."""
        tlds = sorted({t for v in values if _ASCII_TLD.fullmatch(t := v.rsplit(".", 1)[-1].lower())}
                      - FILE_EXTENSIONS)[:_MAX_TLDS]
        if not tlds:
            return None
        # no "..", no "." ending the local part (``validate_result``), at most 65 characters: so at most 64
        # before the @ and 63 in a label, as the pattern has it
        return [Shape(r"^[A-Za-z0-9](?:[A-Za-z0-9_%+\-]|\.[A-Za-z0-9_%+\-])*@"
                      rf"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.){{1,10}}(?i:{'|'.join(tlds)})$", "ascii",
                      max_length=65)]


_ASCII_TLD = re.compile(r"[a-z]{2,24}")
_MAX_TLDS = 64


class CreditCardRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """Payment cards: issuer prefix (IIN) and length per network, Luhn check digit."""

    SCREENED = True
    TRIGGERS = (DIGITS,)

    _START, _END = r"(?<![\w\-.])", r"(?![\d\-]|\.\d)"
    PATTERNS = [
        Pattern("card", rf"{_START}\d{{12,19}}{_END}", 0.3),
        Pattern("card 4-4-4-4", rf"{_START}\d{{4}}([ \-])\d{{4}}\1\d{{4}}\1\d{{4}}{_END}", 0.3),
        Pattern("card 4-4-4-4-3", rf"{_START}\d{{4}}([ \-])\d{{4}}\1\d{{4}}\1\d{{4}}\1\d{{3}}{_END}", 0.3),
        # 14 and 15 digits in groups of four: Diners 3600 6666 3333 44, Amex and UATP 3700 0000 0000 002
        Pattern("card 4-4-4-2/3", rf"{_START}\d{{4}}([ \-])\d{{4}}\1\d{{4}}\1\d{{2,3}}{_END}", 0.3),
        Pattern("card 4-6-4/5", rf"{_START}\d{{4}}([ \-])\d{{6}}\1\d{{4,5}}{_END}", 0.3),
    ]
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "maestro", "uatp", "airplus", "cc", "pan",
               "kort", "kortnummer", "kreditkort", "betalkort", "betaalkaart", "creditcard", "kaartnummer",
               "kreditkarte", "karte"]

    def __init__(self) -> None:
        super().__init__(entities.CREDIT_CARD, name="CreditCardRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        number = digits(pattern_text)
        if not _consistent_groups(pattern_text) or len(set(number)) == 1 or not luhn_valid(number):
            return False
        strength = _card_network_strength(number)
        if strength is None:
            return False
        return True if strength else None


def _consistent_groups(text: str) -> bool:
    separators = {ch for ch in text if not ch.isdigit()}
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = [len(g) for g in text.split(separators.pop())]
    return groups[0] == 4 and (all(g == 4 for g in groups[:-1]) or groups in ([4, 6, 5], [4, 6, 4]))


def _card_network_strength(number: str) -> bool | None:
    """True: a card number; False: plausible but ambiguous (needs context); None: no network."""
    length, prefix = len(number), int(number[:6])
    p2, p3, p4 = prefix // 10_000, prefix // 1_000, prefix // 100
    if number[0] == "1":  # UATP (airline cards): 15 digits, like many account numbers; needs a context word
        return False if length == 15 else None
    if number[0] == "4":
        if length == 13:  # the old 13-digit Visa (still in test data) needs a context word, and is no EAN-13
            return None if gtin_valid(number) else False
        return True if length in (16, 19) else None
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return True if length == 16 else None
    if p2 in (34, 37):
        return True if length == 15 else None
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or p2 == 62:
        return True if 16 <= length <= 19 else None
    if 3528 <= p4 <= 3589:
        return True if 16 <= length <= 19 else None
    if 3088 <= p4 <= 3094 or 3096 <= p4 <= 3102 or 3112 <= p4 <= 3120 or 3158 <= p4 <= 3159 or 3337 <= p4 <= 3349:
        return True if length == 16 else None  # JCB's older ranges (3088 0000 0000 0017 in gateways' test data)
    if p4 in (2131, 1800):  # JCB's older 15-digit numbers
        return True if length == 15 else None
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return True if 14 <= length <= 19 else None
    if 2200 <= p4 <= 2204:  # Mir
        return True if length == 16 else None
    if p4 == 9792:  # Troy
        return True if length == 16 else None
    if 8100 <= p4 <= 8171 or p2 == 82:  # UnionPay 81, RuPay 82
        return True if 16 <= length <= 19 else None
    if p3 == 636:  # InterPayment
        return True if 16 <= length <= 19 else None
    if p2 == 50 or 56 <= p2 <= 69:  # Maestro: short forms look like any order number
        return (length >= 16) if 12 <= length <= 19 else None
    return None


_IBAN_CODES = "|".join(sorted(IBAN_LENGTHS))
_IBAN_SEPARATORS = " .-"


class IbanRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    """IBANs of every country in the SWIFT registry, as people write them: compact, in groups of four, in
    national groupings, with a space after the country code, with dashes or dots, in lower case. Valid:
    the country's length and BBAN structure, mod-97 and the national check (``checksums.iban_valid``).

    A value written like an IBAN (upper-case country code and check digits, then groups of four or one
    compact run) that fails the checks is no IBAN, and no phone or card number either: it is reported as
    a shape only (``SHAPE_ONLY``), which hides the digits in it from the other recognizers.
    """

    # Two letters, the check digits and a group: the country codes are checked by the recognizer (as an
    # alternation in the trigger, or as a case-blind flag, they cost Hyperscan ten times more).
    # The second: a short first group of digits, as in national layouts (NO 21 650 405 251 19, MK072 5012 …).
    TRIGGERS = (Trigger(r"[A-Za-z]{2}[ .\-]?[0-9]{2}[ .\-]?[A-Za-z0-9]{4}", before=2, after=80),
                Trigger(r"[A-Za-z]{2}[ .\-]?[0-9]{2}[ .\-]?[0-9]{1,3}[ .\-][0-9]{3}", before=2, after=80))
    START = re.compile(rf"(?<![A-Za-z0-9])(?:{_IBAN_CODES})[ .\-]?[0-9]{{2}}(?=[ .\-]?[A-Za-z0-9])", re.IGNORECASE)
    GROUPED = re.compile(r"^[A-Z]{2}[0-9]{2}(?:([ .\-]?)[A-Z0-9]{4})(?:\1[A-Z0-9]{4})*(?:\1[A-Z0-9]{1,3})?$")
    CONTEXT = ["iban", "account", "bank", "konto", "kontonummer", "bankkonto", "rekening", "rekeningnummer",
               "bic"]

    SCREENED = True
    SCREEN_PATTERNS = (START,)
    SCREEN_VALUES = re.compile(rf"[A-Za-z0-9{re.escape(_IBAN_SEPARATORS)}]+")  # what _candidate reads

    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.IBAN_CODE], name="IbanRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        return self.analyze_range(text, 0, len(text))

    def analyze_range(self, text: str, start: int, end: int) -> list[RecognizerResult]:
        results = []
        for match in self.START.finditer(text, start, end):
            found = self._candidate(text, match.start(), match.end())
            if found is not None:
                results.append(found)
        return results

    def _candidate(self, text: str, start: int, after_check_digits: int) -> RecognizerResult | None:
        """Read the BBAN after the check digits, one separator at most between characters, up to the
        country's length; the value must not run on into a word."""
        needed = IBAN_LENGTHS[text[start:start + 2].upper()] - 4
        position, count, limit = after_check_digits, 0, min(len(text), after_check_digits + 2 * needed)
        group_ends = []  # where each group ended (a separator followed)
        while position < limit and count < needed:
            char = text[position]
            if char.isascii() and char.isalnum():
                count += 1
            elif char in _IBAN_SEPARATORS and position + 1 < len(text) and text[position + 1].isalnum() \
                    and text[position - 1].isalnum():
                group_ends.append(position)
            else:
                break
            position += 1
        glued = position < len(text) and text[position].isalnum()
        if count == needed and not glued and iban_valid(text[start:position]):
            return RecognizerResult(entities.IBAN_CODE, start, position, 1.0)
        # Written like an IBAN but failing (a digit wrong or missing): not a phone or card number either.
        for end in ([] if glued else [position]) + group_ends[::-1]:
            if self.GROUPED.match(text[start:end]) and end - start >= 14:
                return RecognizerResult(SHAPE_ONLY, start, end, 1.0)
        return None


class UsSsnRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    SCREENED = True
    TRIGGERS = (DIGITS,)
    PATTERNS = [Pattern("ssn", r"(?<![\w\-.])\d{3}([\- .]?)\d{2}\1\d{4}(?![\d\-]|\.\d)", WEAK)]
    CONTEXT = ["ssn", "social security", "social", "security number", "ss#", "ssa", "taxpayer"]
    NOT_ISSUED = frozenset({"078051120", "219099999", "123456789"})

    def __init__(self) -> None:
        super().__init__(entities.US_SSN, name="UsSsnRecognizer", patterns=self.PATTERNS, context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        number = digits(pattern_text)
        area, group, serial = number[:3], number[3:5], number[5:]
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000" or number in self.NOT_ISSUED:
            return False
        return True if len(pattern_text) == 11 else None  # formatted 123-45-6789; bare digits are weak


DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"  # hyphen, non-breaking hyphen, figure, en, em dash, minus


class SePersonnummerRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    # Word processors turn the hyphen into a dash: 811218–9876 (the digit trigger does not span a dash).
    SCREENED = True
    TRIGGERS = (DIGITS, Trigger("[0-9]{6}(?:" + "|".join(DASHES) + ")[0-9]{4}", before=2, after=1))
    PATTERNS = [Pattern("personnummer", rf"(?<![\w\-+{DASHES}])(?:(?:18|19|20)\d{{2}}|\d{{2}})\d{{4}}"
                                        rf"(?:[\-+ {DASHES}]\d{{4}}|\d{{4}})(?![\d\-{DASHES}])", WEAK)]
    CONTEXT = ["personnummer", "personnr", "pnr", "person nr", "samordningsnummer", "födelsenummer", "personal number",
               "personal identity", "id-nummer", "swedish id"]

    def __init__(self) -> None:
        super().__init__(entities.SE_PERSONNUMMER, name="SePersonnummerRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        number = digits(pattern_text)
        if len(number) not in (10, 12) or not personnummer_valid(number):
            return False
        strong = len(number) == 12 or any(ch in pattern_text for ch in "-+" + DASHES)
        return True if strong else None  # written 811218 9876 or 8112189876: needs a context word


class NlBsnRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    SCREENED = True
    TRIGGERS = (DIGITS,)
    PATTERNS = [Pattern("bsn", r"(?<![\w.\-])(?:\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3})(?![\d\-]|\.\d)", WEAK)]
    CONTEXT = ["bsn", "burgerservicenummer", "burgerservice", "sofinummer", "sofi", "citizen service number"]

    def __init__(self) -> None:
        super().__init__(entities.NL_BSN, name="NlBsnRecognizer", patterns=self.PATTERNS, context=self.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        if not bsn_valid(digits(pattern_text)):
            return False
        return True if "." in pattern_text else None


class UkNinoRecognizer(PatternRecognizer, DetourRecognizer):  # type: ignore[misc]
    """UK National Insurance numbers, in upper or lower case (qq 12 34 56 c is how some forms store them)."""

    SCREENED = True
    TRIGGERS = (Trigger(r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2}", before=2, after=8, caseless=True),)
    PATTERNS = [Pattern("nino", r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                                r"(?: ?\d{2} ?\d{2} ?\d{2}| \d{6})( ?)[A-Z](?![A-Za-z0-9])", 0.4)]
    CONTEXT = ["national insurance", "nino", "ni number", "ni no", "nin", "insurance number"]
    NOT_ALLOCATED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN"})

    def __init__(self) -> None:
        super().__init__(entities.UK_NINO, name="UkNinoRecognizer", patterns=self.PATTERNS, context=self.CONTEXT,
                         global_regex_flags=CASE_SENSITIVE | regex.IGNORECASE)

    def validate_result(self, pattern_text: str) -> bool | None:
        upper = pattern_text.upper()
        if upper[:2] in self.NOT_ALLOCATED:
            return False
        if upper[-1] not in "ABCD" and not upper.startswith("ZZ"):
            return False  # HMRC's suffixes are A-D; ZZ … T is the placeholder test data is made of (Faker's)
        if pattern_text != upper and pattern_text != pattern_text.lower():
            return None  # mixed case: a word and a number, unless the context says otherwise
        if " " in pattern_text or upper[-1] in "ABCD":
            return True
        return None


class PhoneRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    """Phone numbers in international and national formats, scored by how phone-like they are."""

    TRIGGERS = (DIGITS,)

    # Digit groups are possessive, so a long digit run is one group and never split into phones.
    _GROUP = r"(?:\(\d++\)|\d++)"
    PATTERN = re.compile(  # the standard library's engine: cheaper per call; the pattern is linear
        rf"(?<![\w+/.\-])(?:\+|00)?(?: ?){_GROUP}(?:[ .\-/]{{0,2}}{_GROUP}){{0,7}}"
        r"(?: ?(?:x|ext\.?|\#) ?\d{1,6})?(?![\w/]|[ .\-/]{0,2}\d)",
        re.IGNORECASE,
    )
    _DATE = regex.compile(r"^(\d{1,4})([./\-])(\d{1,2})\2(\d{1,4})$")
    _THOUSANDS = regex.compile(r"^[1-9]\d{0,2}(?:([ .,])\d{3})(?:\1\d{3})*$")
    _DOTTED = regex.compile(r"^\d{1,3}(?:\.\d{1,3}){2,}$")
    _HOUR = regex.compile(r" \d{1,2}$")
    _ISBN10 = regex.compile(r"^\d{1,5}-\d{1,7}-\d{1,7}-\d$")
    _NATIONAL = regex.compile(r"^0\d{1,4}[ .\-/]")  # trunk prefix 0 and an area code, then a group
    _NANP = regex.compile(r"^(?:1[ .\-])?[2-9]\d{2}[ .\-]\d{3}[ .\-]\d{4}$")
    _SSN_SHAPE = regex.compile(r"^\d{3}-\d{2}-\d{4}$")  # 078-05-0000: a social security number's layout
    # A phone label right before the number ("Phone no: …", "Tel. nr …", "Mobile #: …"): the number is a phone,
    # whatever an anti-context label ("no", "nr", "#") says. 512 345 678 (a mobile number in Poland, Spain or
    # Czechia, or an amount) is a phone only so labelled.
    _THREE_BY_THREE = re.compile(r"\d{3} \d{3} \d{3}")
    _PHONE_LABEL = re.compile(r"(?<![^\W\d_])(?:tel|tfn|phone|mobile|mob|cell|gsm|fax|telefon|telefonnummer|mobil|"
                              r"mobilnummer|telefoon|mobiel|handy|téléphone|portable|teléfono|telefono|móvil|movil|"
                              r"celular|cellulare|komórka)\.?[ \t]*(?:no\.?|nr\.?|number|nummer|\#)?[ \t]*[:.]?"
                              r"[ \t]*$")
    _EXTENSION = regex.compile(r" ?(?:x|ext\.?|\#) ?\d{1,6}$", regex.IGNORECASE)
    # Labels of numbers that are no phone: a column with one of these headers, or a number labelled so
    # ("Order 000123456", "EAN: 7312345678901"), is never a phone unless written with a +country code.
    ANTI_CONTEXT = ("ean", "gtin", "upc", "isbn", "issn", "sku", "barcode", "bar code", "streckkod", "streepjescode",
                    "article", "artikel", "artikelnummer", "artikelnr", "art.nr", "art. nr", "art nr", "artnr",
                    "item", "item no", "item number", "product no", "product number", "produktnummer", "productnummer",
                    "order", "ordernummer", "ordernr", "order no", "order number", "bestelnummer", "bestellnummer",
                    "invoice", "faktura", "fakturanummer", "factuur", "factuurnummer", "rechnung", "rechnungsnummer",
                    "customer no", "customer number", "customer id", "kundnummer", "kundnr", "klantnummer",
                    "serial", "serienummer", "serial number", "part no", "part number", "model", "modell",
                    "modelnummer", "ticket", "case", "ärende", "ocr", "reference", "referens", "referentie", "ref",
                    "tracking", "shipment", "zendingnummer", "id", "no", "nr", "#")
    CONTEXT = ["phone", "tel", "telephone", "mobile", "mob", "cell", "call", "fax", "contact", "telefon",
               "telefonnummer", "mobil", "mobilnummer", "tfn", "telefoon", "telefoonnummer", "mobiel", "gsm", "handy",
               "rufnummer", "téléphone", "telephone", "portable", "teléfono", "telefono", "móvil", "movil", "celular",
               "cellulare", "puhelin", "puh", "ring", "ringa", "bel", "bellen"]

    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.PHONE_NUMBER], name="PhoneRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        return self.analyze_range(text, 0, len(text))

    def analyze_range(self, text: str, start: int, end: int) -> list[RecognizerResult]:
        """Results within ``text[start:end]``, with lookarounds seeing the real neighbours."""
        results = []
        for match in self.PATTERN.finditer(text, start, end):
            candidate = match.group().strip()
            score = self.score(candidate)
            at = match.start() + (len(match.group()) - len(match.group().lstrip()))
            if (score or self._THREE_BY_THREE.fullmatch(candidate)) and score < CERTAIN \
                    and self._PHONE_LABEL.search(self._before(text, at)):
                score = CERTAIN
            if score:
                results.append(RecognizerResult(self.supported_entities[0], at, at + len(candidate), score))
        return results

    @staticmethod
    def _before(text: str, at: int) -> str:
        """The label a number may have right before it: on its own line only (a header line ending in
        "mobile" labels the column, not the first row's number)."""
        before = text[max(0, at - 24):at]
        return before[before.rfind("\n") + 1:].lower()

    def column_shapes(self, values: list[str]) -> Sequence[Shape] | None:
        """A phone column: its layouts (digits as ``\\d``; the country code and the first digits written out,
        so that the checks this recognizer makes on them give one answer per layout), the most common first."""
        counts: dict[str, int] = {}
        for value in values:
            template = self._template(value)
            if template is not None:
                counts[template] = counts.get(template, 0) + 1
        chosen = sorted(counts, key=lambda t: -counts[t])[:_MAX_LAYOUTS]
        return [Shape(f"^{template}$", "phone", remove="".join(sorted(set(_SEPARATOR_CHARS) & set(template))))
                for template in chosen] or None

    def _template(self, value: str) -> str | None:
        """The layout of a phone value whose score follows from its layout alone, or None."""
        if not _LAYOUT_CHARS.fullmatch(value) or self.score(value) < 0.5 or _ONE_DIGIT_GROUP.search(value):
            return None  # (a digit in brackets, as in +44 (0)…, is dropped or not by its value)
        plain = value.replace("(", "").replace(")", "")
        if plain.isdigit() or self._ISBN10.match(value) or self._DATE.match(plain) \
                or self._DATE.match(self._HOUR.sub("", plain)):
            return None  # check digits and dates: each value on its own
        prefix = 2 if value.startswith("00") else 0
        out, written = [], 0
        for char in value[prefix:]:
            if char.isdigit() and written >= 3:
                out.append(r"\d")
            else:
                written += char.isdigit()
                out.append(re.escape(char))
        digits = "".join(filter(str.isdigit, value))
        if len(digits) == 13 and digits.startswith(("978", "979")):
            return None  # an ISBN-13 when its check digit fits
        return ("00" if prefix else "") + "".join(out)

    def score(self, candidate: str) -> float:
        """0 when not a phone number; otherwise how sure its formatting makes us."""
        core = self._EXTENSION.sub("", candidate) if _MAYBE_EXTENSION.search(candidate) else candidate
        number = "".join(filter(str.isdigit, core))
        international = core.startswith(("+", "00"))
        if international and not 8 <= len(number) <= 15:
            return 0.0
        if not international and not 7 <= len(number) <= 13:
            return 0.0
        plain = core.replace("(", "").replace(")", "") if "(" in core else core
        for dated in (plain, self._HOUR.sub("", plain)):  # 2024-01-15 10:30 is a timestamp
            date = self._DATE.match(dated)
            if date is not None and _date_like(date):
                return 0.0
        if len(number) == 13 and number.startswith(("978", "979")) and ean13_valid(number):  # ISBN-13
            return 0.0
        if "-" in core and self._ISBN10.match(core) and isbn10_valid(core.replace("-", "")):
            return 0.0
        if self._THOUSANDS.match(plain) or self._DOTTED.match(plain) or _DECIMAL.fullmatch(plain) \
                or self._SSN_SHAPE.match(plain):
            return 0.0
        if international:  # a country code, and a national number of a length that country has
            return (0.8 if core.startswith("+") else 0.7) if _possible_international(number, core) else 0.0
        if number == core and gtin_valid(number):  # one bare run with a barcode's check digit: EAN, UPC, GTIN
            return 0.0
        if "(" in core or self._NATIONAL.match(core) or self._NANP.match(core):
            return 0.6
        return 0.4 if number != core else WEAK  # formatted in groups, or one bare run of digits


def _possible_international(number: str, core: str) -> bool:
    """+CC… or 00CC…: a country calling code followed by a national number of a possible length there
    (python's port of Google's libphonenumber). ``000123456`` is an order number, not a phone."""
    if "(0)" in core:  # +44 (0)115…: the trunk 0 is not dialled from abroad
        number = "".join(filter(str.isdigit, core.replace("(0)", "", 1)))
    international = number[2:] if core.startswith("00") else number
    for digits_in_code in (1, 2, 3):  # calling codes are prefix-free: at most one of these is one
        code = int(international[:digits_in_code] or 0)
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _possible_length(code, len(international) - digits_in_code)
    return False


@functools.lru_cache(maxsize=4096)
def _possible_length(code: int, national_digits: int) -> bool:
    """Whether a national number of this many digits is possible behind this calling code (possibility is
    a matter of length in libphonenumber: asked once per pair, with a number of that length)."""
    try:
        parsed = phonenumbers.parse(f"+{code}{'2' * national_digits}")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))


_MAYBE_EXTENSION = regex.compile(r"[xX#]|ext")
_SEPARATOR_CHARS = " .-/()"
_ONE_DIGIT_GROUP = re.compile(r"\(\d\)")
_LAYOUT_CHARS = re.compile(r"\+?[0-9 .\-/()]+")  # what a phone column's layout may hold
_MAX_LAYOUTS = 16
_DECIMAL = regex.compile(r"\d+\.\d{1,2}")


def _date_like(match: regex.Match[str]) -> bool:
    a, _, b, c = match.groups()
    first, middle, last = int(a), int(b), int(c)
    if len(a) == 4:  # 2024-01-15
        return 1 <= middle <= 12 and 1 <= last <= 31
    if len(c) in (2, 4):  # 15.01.2024, 01/15/24
        return (1 <= middle <= 12 and 1 <= first <= 31) or (1 <= first <= 12 and 1 <= middle <= 31)
    return False
