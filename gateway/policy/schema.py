"""The policy model: destinations, data classes, rules and the alternatives catalogue.

Frozen pydantic models loaded from the YAML files in ``policies/``; unknown
fields are errors so a typo is reported with its file and line, never ignored.
A JSON Schema generated from ``PolicyDocument`` lets editors validate the files.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alternatives.catalogue import (
    LANGUAGES,
    Alternative,
    Helpdesk,
    Identifier,
    Language,
    Localized,
    placeholders,
)
from gateway.records import Action

REASON_PLACEHOLDERS = frozenset({"found", "destination", "category"})
FOUND_PLACEHOLDERS = frozenset({"count", "distinct", "people"})


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _valid_host_pattern(pattern: str) -> str:
    pattern = pattern.strip().lower().rstrip(".")
    try:
        ipaddress.ip_network(pattern, strict=False)
        return pattern
    except ValueError:
        pass
    body = pattern.removeprefix("*.")
    labels = body.split(".")
    if not body or "*" in body or "/" in body or any(not label for label in labels):
        raise ValueError(
            f"{pattern!r} is not a host pattern; use a domain (example.com, which includes its "
            "subdomains), *.example.com (subdomains only), an IP address or a CIDR range"
        )
    return pattern


HostPattern = Annotated[str, Field(min_length=1)]


class DestinationCategory(Model):
    id: Identifier
    title: Localized
    sanctioned: bool
    hosts: list[HostPattern] = Field(default_factory=list, max_length=100_000)

    @field_validator("hosts")
    @classmethod
    def _hosts_are_patterns(cls, hosts: list[str]) -> list[str]:
        return [_valid_host_pattern(h) for h in hosts]


class UnknownDestination(Model):
    """Where hosts that no category lists end up: unsanctioned unless IT says otherwise."""

    id: Identifier = "unknown_external"
    title: Localized = Localized(en="an unknown external site", sv="en okänd extern webbplats",
                                 nl="een onbekende externe website")
    sanctioned: bool = False


class Plural(Model):
    one: str
    other: str


class LocalizedPlural(Model):
    en: Plural
    sv: Plural | None = None
    nl: Plural | None = None

    def get(self, language: Language, n: int) -> str:
        forms: Plural = getattr(self, language) or self.en
        return forms.one if n == 1 else forms.other


class DataClass(Model):
    """A kind of sensitive data the policy talks about, defined by detectors and a threshold."""

    id: Identifier
    title: Localized
    found: LocalizedPlural = Field(description="How a finding is described; {count} {distinct} {people}.")
    detectors: list[str] = Field(min_length=1)
    min_count: int = Field(default=1, ge=1)
    min_distinct: int = Field(default=1, ge=1)
    min_people: int | None = Field(default=None, ge=1)
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _known_placeholders(self) -> DataClass:
        for language in LANGUAGES:
            forms: Plural | None = getattr(self.found, language)
            for text in (forms.one, forms.other) if forms else ():
                unknown = placeholders(text) - FOUND_PLACEHOLDERS
                if unknown:
                    raise ValueError(f"found.{language}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                                     "allowed: {count}, {distinct}, {people}")
        return self


class Condition(Model):
    data_classes: list[str] = Field(min_length=1)
    sanctioned: bool | None = None
    destinations: list[str] = Field(default_factory=list, description="Destination category ids")
    groups: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)


class Exemption(Model):
    destinations: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)


class Rule(Model):
    id: Identifier
    description: str = ""
    when: Condition
    unless: Exemption | None = None
    action: Action
    reason: Localized = Field(description="One sentence for staff; {found} {destination} {category}.")
    alternatives: list[str] = Field(default_factory=list, description="Alternative ids, in order of preference")
    mode: Literal["enforce", "monitor"] = Field(default="enforce", description=(
        "monitor: the rule is evaluated and recorded as 'would block' or 'would warn', and the upload "
        "is not stopped by it: to try a rule on real traffic before it is enforced"))

    @field_validator("reason")
    @classmethod
    def _known_placeholders(cls, reason: Localized) -> Localized:
        for language in LANGUAGES:
            unknown = placeholders(reason.get(language)) - REASON_PLACEHOLDERS
            if unknown:
                raise ValueError(f"{language}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                                 "allowed: {found}, {destination}, {category}")
        return reason


class OnError(Model):
    """What to do with an upload Detour could not finish checking (an internal error or a timeout).

    Fail-closed (``block``) unless the policy says otherwise, per kind of destination.
    """

    sanctioned: Action = Action.BLOCK
    unsanctioned: Action = Action.BLOCK


class PolicyMeta(Model):
    name: str = "default"
    version: str = "1"
    default_action: Action = Action.ALLOW
    default_language: Language = "en"
    on_error: OnError = OnError()
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1, description=(
        "The languages staff read; `detour policy check` warns about a text missing in one of them"))
    max_exception_days: int = Field(default=90, ge=1, le=366, description=(
        "The longest an exception IT grants (approving a review request) may last, in days"))


class PolicyLimits(Model):
    """Overrides of the limits in the gateway's settings (DETOUR_* variables); unset keeps the setting."""

    max_upload_bytes: int | None = Field(default=None, ge=1)
    max_archive_depth: int | None = Field(default=None, ge=0, le=50)
    max_members: int | None = Field(default=None, ge=1)
    max_total_bytes: int | None = Field(default=None, ge=1)
    max_member_bytes: int | None = Field(default=None, ge=1)
    max_ratio: int | None = Field(default=None, ge=2)
    max_pdf_pages: int | None = Field(default=None, ge=1)
    ocr_max_pixels: int | None = Field(default=None, ge=1)
    ocr_seconds: float | None = Field(default=None, gt=0)
    file_seconds: float | None = Field(default=None, gt=0)
    upload_seconds: float | None = Field(default=None, gt=0)


class Redaction(Model):
    """The redacted copy: staff may download a copy of a stopped text, CSV/TSV, JSON or XLSX file with
    the values of these data classes masked, when that copy would be allowed to the same destination."""

    enabled: bool = False
    data_classes: list[str] = Field(default_factory=list, description="Data classes whose values are masked; "
                                    "a copy is offered only when every data class that stopped the file is here")


class PolicyDocument(Model):
    """Everything in the policy directory, merged: the schema IT's YAML files follow."""

    policy: PolicyMeta = PolicyMeta()
    limits: PolicyLimits = PolicyLimits()
    redaction: Redaction = Redaction()
    # Bounded, as everything Detour reads: far above what a policy holds (the shipped one: 5, 8, 7 and 6)
    destinations: list[DestinationCategory] = Field(default_factory=list, max_length=1_000)
    unknown_destination: UnknownDestination = UnknownDestination()
    data_classes: list[DataClass] = Field(default_factory=list, max_length=500)
    rules: list[Rule] = Field(default_factory=list, max_length=1_000)
    alternatives: list[Alternative] = Field(default_factory=list, max_length=500)
    helpdesk: Helpdesk

    def data_class(self, data_class_id: str) -> DataClass | None:
        return next((d for d in self.data_classes if d.id == data_class_id), None)

    def category(self, category_id: str) -> DestinationCategory | UnknownDestination | None:
        if category_id == self.unknown_destination.id:
            return self.unknown_destination
        return next((c for c in self.destinations if c.id == category_id), None)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy files (published as policies/policy.schema.json), for editors."""
    schema = PolicyDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Detour policy"
    schema["description"] = ("One file of a Detour policy directory. Sections may be spread over files, "
                             "so none is required in a single file; `detour policy check` checks the whole.")
    schema.pop("required", None)
    return schema
