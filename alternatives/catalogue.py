"""The alternatives catalogue: approved routes for data, as IT writes them in ``alternatives.yaml``.

An alternative is data, not code: an id, a kind, a URL template, the data
classes it is approved for, and its texts in English, Swedish and Dutch. Models
are frozen pydantic models; unknown fields are errors so that a typo in the YAML
is reported, not ignored.
"""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["en", "sv", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "sv", "nl")
DEFAULT_LANGUAGE: Language = "en"

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
ANY_DATA = "*"
URL_PLACEHOLDERS = frozenset({"decision_id", "file_name", "destination_host", "user", "group"})
MESSAGE_PLACEHOLDERS = frozenset({"file", "destination", "found", "route", "url", "reference", "contact"})


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a format template refers to; raises ValueError on broken braces."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Localized(Model):
    """A text in each supported language; English is required, others fall back to it."""

    en: str
    sv: str | None = None
    nl: str | None = None

    def get(self, language: Language) -> str:
        text: str | None = getattr(self, language)
        return text if text is not None else self.en


class AlternativeKind(StrEnum):
    VPN_SHARE = "vpn_share"
    SHAREPOINT = "sharepoint"
    SECURE_TRANSFER = "secure_transfer"
    SECRETS_VAULT = "secrets_vault"
    ENCRYPTED_EMAIL = "encrypted_email"
    REQUEST_REVIEW = "request_review"
    OTHER = "other"


class AlternativeText(Model):
    title: str = Field(min_length=1, max_length=120)
    action: str = Field(default="", max_length=80, description="The button that takes the route, as a verb: "
                        "'Share it on the partner SharePoint site' (default: the title)")
    summary: str = Field(default="", max_length=300)
    instructions: list[str] = Field(min_length=1)


class Alternative(Model):
    id: Identifier
    kind: AlternativeKind
    url: str
    approved_for: list[str] = Field(min_length=1)
    priority: int = 100
    groups: list[str] = Field(default_factory=list)
    texts: dict[Language, AlternativeText]

    @field_validator("url")
    @classmethod
    def _url_is_a_safe_template(cls, url: str) -> str:
        unknown = placeholders(url) - URL_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{sorted(unknown)[0]}}} in URL; "
                f"allowed: {', '.join('{' + n + '}' for n in sorted(URL_PLACEHOLDERS))}"
            )
        scheme = urlsplit(url).scheme
        if scheme not in ("https", "http", "mailto"):
            raise ValueError("the URL must start with https://, http:// or mailto:")
        return url

    @field_validator("texts")
    @classmethod
    def _english_is_required(cls, texts: dict[Language, AlternativeText]) -> dict[Language, AlternativeText]:
        if "en" not in texts:
            raise ValueError("texts must include English (en); Swedish (sv) and Dutch (nl) fall back to it")
        return texts

    def text(self, language: Language) -> AlternativeText:
        return self.texts.get(language) or self.texts["en"]

    def approves(self, data_classes: set[str]) -> bool:
        return ANY_DATA in self.approved_for or data_classes <= set(self.approved_for)

    def available_to(self, group: str | None) -> bool:
        return not self.groups or (group is not None and group in self.groups)


class HelpdeskContact(Model):
    name: Localized
    email: str | None = None
    phone: str | None = None
    url: str | None = None

    def details(self, language: Language) -> dict[str, str]:
        """Name and the ways to reach the helpdesk, for a message or a page."""
        out = {"name": self.name.get(language)}
        out.update({k: v for k, v in (("email", self.email), ("phone", self.phone), ("url", self.url)) if v})
        return out

    @model_validator(mode="after")
    def _reachable(self) -> HelpdeskContact:
        if not (self.email or self.phone or self.url):
            raise ValueError("the helpdesk needs at least one of email, phone or url")
        return self


class HelpdeskTexts(Model):
    """Message templates. Placeholders: {file} {destination} {found} {route} {url} {reference} {contact}."""

    blocked: Localized
    warned: Localized
    route: Localized
    no_route: Localized
    closing: Localized
    mail_subject: Localized

    @model_validator(mode="after")
    def _known_placeholders(self) -> HelpdeskTexts:
        for field_name in type(self).model_fields:
            localized: Localized = getattr(self, field_name)
            for language in LANGUAGES:
                unknown = placeholders(localized.get(language)) - MESSAGE_PLACEHOLDERS
                if unknown:
                    raise ValueError(
                        f"{field_name}.{language}: unknown placeholder {{{sorted(unknown)[0]}}}; allowed: "
                        + ", ".join("{" + n + "}" for n in sorted(MESSAGE_PLACEHOLDERS))
                    )
        return self


class Helpdesk(Model):
    contact: HelpdeskContact
    texts: HelpdeskTexts


class Catalogue(Model):
    alternatives: list[Alternative]
    helpdesk: Helpdesk

    @model_validator(mode="after")
    def _ids_are_unique_and_review_exists(self) -> Catalogue:
        seen: set[str] = set()
        for alternative in self.alternatives:
            if alternative.id in seen:
                raise ValueError(f"alternative id {alternative.id!r} is used twice")
            seen.add(alternative.id)
        if not any(a.kind is AlternativeKind.REQUEST_REVIEW for a in self.alternatives):
            raise ValueError("the catalogue needs one alternative of kind request_review (ask IT to review)")
        return self

    def get(self, alternative_id: str) -> Alternative | None:
        return next((a for a in self.alternatives if a.id == alternative_id), None)


class RouteContext(Model):
    """What a URL template may refer to. Values are URL-encoded when filled in."""

    decision_id: str
    file_name: str = ""
    destination_host: str = ""
    user: str = ""
    group: str = ""


class Offer(Model):
    """An alternative rendered for one decision and language: what staff see."""

    id: str
    kind: AlternativeKind
    rank: int
    title: str
    action: str = ""  # the button that takes it, as a verb
    summary: str
    url: str
    instructions: list[str]


def render_offer(alternative: Alternative, rank: int, language: Language, context: RouteContext) -> Offer:
    values = {key: quote(str(value), safe="") for key, value in context.model_dump().items()}
    text = alternative.text(language)
    return Offer(
        id=alternative.id,
        kind=alternative.kind,
        rank=rank,
        title=text.title,
        action=text.action or text.title,
        summary=text.summary,
        url=alternative.url.format_map(values),
        instructions=list(text.instructions),
    )
