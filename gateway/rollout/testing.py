"""Policy tests, in the spirit of ``opa test``: YAML cases of input → expected decision.

Files named ``*_test.yaml`` (by default in ``policies/tests/``) hold ``cases:``;
each case runs through the real pipeline (extraction, detectors, policy), so a
policy change is tested the way it will behave in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.pipeline import Pipeline
from gateway.records import Action, Channel, Envelope


class PolicyTestCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    destination: str = Field(description="URL or host the upload goes to")
    user: str | None = None
    group: str | None = None
    file_name: str = "upload.txt"
    content: str | None = Field(default=None, description="The upload, inline (UTF-8)")
    file: str | None = Field(default=None, description="Or a file, relative to the test file")
    expect: Action
    rules: list[str] | None = Field(default=None, description="Exactly these rule ids decide")
    first_alternative: str | None = None

    @model_validator(mode="after")
    def _one_input(self) -> PolicyTestCase:
        if (self.content is None) == (self.file is None):
            raise ValueError("give exactly one of content or file")
        return self


class PolicyTestFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: list[PolicyTestCase] = Field(min_length=1)


@dataclass
class CaseResult:
    file: str
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def run_policy_tests(pipeline: Pipeline, folder: Path) -> list[CaseResult]:
    results: list[CaseResult] = []
    for path in sorted(folder.glob("*_test.yaml")):
        try:
            suite = PolicyTestFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError, UnicodeDecodeError) as exc:
            results.append(CaseResult(path.name, "(file)", [f"invalid test file: {exc}"]))
            continue
        for case in suite.cases:
            results.append(_run(pipeline, path, case))
    return results


def _run(pipeline: Pipeline, path: Path, case: PolicyTestCase) -> CaseResult:
    result = CaseResult(path.name, case.name)
    if case.file is not None:
        try:
            blob = (path.parent / case.file).read_bytes()
        except OSError as exc:
            result.problems.append(f"can't read {case.file}: {exc.strerror}")
            return result
        name = Path(case.file).name
    else:
        blob, name = (case.content or "").encode("utf-8"), case.file_name
    report = pipeline.inspect(blob, Envelope(name, case.destination, case.user, case.group, Channel.POLICY_TEST))
    if report.decision is not case.expect:
        why = "; ".join(r.rule for r in report.reasons) or "no rule applied"
        result.problems.append(f"expected {case.expect.value}, got {report.decision.value} ({why})")
    rules = [r.rule for r in report.reasons]
    if case.rules is not None and sorted(rules) != sorted(case.rules):
        result.problems.append(f"expected rules {case.rules}, got {rules}")
    if case.first_alternative is not None:
        first = report.alternatives[0].id if report.alternatives else None
        if first != case.first_alternative:
            result.problems.append(f"expected first alternative {case.first_alternative}, got {first}")
    return result
