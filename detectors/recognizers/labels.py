"""Recognizer for sensitivity labels and classification markings at Confidential level or above.

Extraction turns Microsoft Purview (MIP) label properties into lines
``Sensitivity label: <name>``; documents also carry visible markings such as
``Classification: Confidential`` or ``Klassificering: Konfidentiell``. Only
names at Confidential level or stricter are findings: Public, General and
Internal labels say the data may travel.
"""

from __future__ import annotations

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors import entities
from detectors.prefilter import Scope, Trigger
from detectors.recognizers.base import DetourRecognizer

_MARKERS = ("sensitivity label|sensitivity|classification|classified|klassificering|klassning|informationsklass|"
            "classificatie|rubricering|vertrouwelijkheid|einstufung|klassifizierung")

CONFIDENTIAL = ("highly confidential", "strictly confidential", "confidential", "secret", "restricted",
                "strikt konfidentiell", "konfidentiell", "hemlig", "sekretess", "zeer vertrouwelijk",
                "vertrouwelijk", "geheim", "streng vertraulich", "vertraulich")
NEGATIONS = ("non", "not", "un", "niet", "inte", "nicht", "ej", "icke")


class SensitivityLabelRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    TRIGGERS = (Trigger(f"(?:{_MARKERS})", scope=Scope.LINE, caseless=True),)
    MARKING = regex.compile(rf"(?im)^[ \t]*(?:{_MARKERS})[ \t]*[:\-–][ \t]*(?P<name>[^\n\r\t]{{2,60}}?)[ \t]*$")

    def __init__(self) -> None:
        super().__init__(supported_entities=[entities.SENSITIVITY_LABEL], name="SensitivityLabelRecognizer",
                         context=["sensitivity", "classification", "label", "klassificering", "classificatie"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        return self.analyze_range(text, 0, len(text))

    def analyze_range(self, text: str, start: int, end: int) -> list[RecognizerResult]:
        results = []
        for match in self.MARKING.finditer(text, start, end):
            name = match.group("name")
            if is_confidential(name):
                start, end = match.span("name")
                results.append(RecognizerResult(self.supported_entities[0], start, end, 1.0))
        return results


def is_confidential(name: str) -> bool:
    words = regex.findall(r"\w+", name.lower())
    joined = " ".join(words)
    if any(word in NEGATIONS or word.startswith(("non", "un")) and word.endswith("confidential") for word in words):
        return False
    return any(level in joined for level in CONFIDENTIAL)
