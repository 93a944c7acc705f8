"""The accuracy harness: run a labelled corpus through the pipeline and count right and wrong.

A corpus folder holds files and a ``labels.json`` mapping each file name to
``{"expect": "block" | "allow", "why": "..."}``: the decision the policy must
reach for an unsanctioned external destination. A false block stops
legitimate work; a miss lets data walk out: both are reported, with reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import DetourError
from gateway.pipeline import Pipeline
from gateway.records import Channel, Envelope
from gateway.render.report import Report

LABELS = ("block", "allow")


@dataclass(frozen=True)
class Case:
    file: str
    expected: str
    why: str
    got: str
    report: Report

    @property
    def correct(self) -> bool:
        return self.got == self.expected or (self.expected == "allow" and self.got == "warn")


@dataclass
class Evaluation:
    cases: list[Case] = field(default_factory=list)

    def count(self, expected: str, got: str) -> int:
        return sum(1 for c in self.cases if c.expected == expected and c.got == got)

    @property
    def recall(self) -> float:
        """Share of block-labelled files that were blocked."""
        blocks = [c for c in self.cases if c.expected == "block"]
        return sum(c.got == "block" for c in blocks) / len(blocks) if blocks else 1.0

    @property
    def false_block_rate(self) -> float:
        """Share of allow-labelled files that were blocked."""
        allows = [c for c in self.cases if c.expected == "allow"]
        return sum(c.got == "block" for c in allows) / len(allows) if allows else 0.0

    @property
    def mismatches(self) -> list[Case]:
        return [c for c in self.cases if not c.correct]


def load_labels(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / "labels.json"
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DetourError(f"{path}: can't read the labels ({exc})") from exc
    if not isinstance(labels, dict):
        raise DetourError(f"{path}: expected an object of file name → {{expect, why}}")
    for name, label in labels.items():
        if not isinstance(label, dict) or label.get("expect") not in LABELS:
            raise DetourError(f"{path}: {name}: 'expect' must be one of {', '.join(LABELS)}")
    return labels


def evaluate(pipeline: Pipeline, folder: Path, destination: str = "") -> Evaluation:
    evaluation = Evaluation()
    for name, label in sorted(load_labels(folder).items()):
        path = folder / name
        if not path.is_file():
            raise DetourError(f"{path}: listed in labels.json but not found")
        report = pipeline.inspect(path, Envelope(name, destination, channel=Channel.EVAL), "en")
        evaluation.cases.append(Case(name, label["expect"], label.get("why", ""), report.decision.value, report))
    return evaluation
