"""The helpdesk message: sorry, concrete, with a reference, in the uploader's language.

In the spirit of: "Sorry — this file can't go to wetransfer.com because it
contains contact details of 60 people. You can share it right away through the
Marketing SharePoint site with guest access… Reference DTR-…". The message
carries counts and masked examples only, never a matched value.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from alternatives.catalogue import Helpdesk, Language, Model, Offer

_AND = {"en": "and", "sv": "och", "nl": "en"}


class HelpdeskMessage(Model):
    message: str
    reference: str
    contact: dict[str, str]
    mailto: str | None = None


def join_phrases(phrases: Sequence[str], language: Language) -> str:
    """'a', 'a and b', 'a, b and c' in the given language."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return f"{', '.join(phrases[:-1])} {_AND[language]} {phrases[-1]}"


def compose(
    helpdesk: Helpdesk,
    language: Language,
    *,
    blocked: bool,
    file_name: str,
    destination: str,
    found: Sequence[str],
    offers: Sequence[Offer],
    reference: str,
) -> HelpdeskMessage:
    """Build the message for a block (or a warning) with its reference and contact details."""
    texts = helpdesk.texts
    values = message_values(helpdesk, file_name=file_name, destination=destination, reference=reference,
                            found=join_phrases(found, language))
    first = next((o for o in offers if o.kind != "request_review"), None)
    sentences = [(texts.blocked if blocked else texts.warned).get(language).format_map(values)]
    if first is not None:
        sentences.append(texts.route.get(language).format_map({**values, "route": first.title, "url": first.url}))
    else:
        sentences.append(texts.no_route.get(language).format_map(values))
    sentences.append(texts.closing.get(language).format_map(values))
    message = " ".join(s.strip() for s in sentences if s.strip())
    return HelpdeskMessage(message=message, reference=reference, contact=helpdesk.contact.details(language),
                           mailto=mail_link(helpdesk, language, values, message))


def message_values(helpdesk: Helpdesk, *, file_name: str, destination: str, reference: str,
                   found: str = "") -> dict[str, str]:
    """The values a helpdesk template may refer to."""
    contact = helpdesk.contact
    return {"file": file_name or "this file", "destination": destination, "found": found, "reference": reference,
            "contact": ", ".join(v for v in (contact.email, contact.phone, contact.url) if v)}


def mail_link(helpdesk: Helpdesk, language: Language, values: dict[str, str], message: str) -> str | None:
    """A prefilled mail to the helpdesk (its subject from the policy's template), when it has an address."""
    email = helpdesk.contact.email
    if not email:
        return None
    subject = helpdesk.texts.mail_subject.get(language).format_map({"route": "", "url": "", **values})
    return f"mailto:{email}?subject={quote(subject)}&body={quote(message)}"
