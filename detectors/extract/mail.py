"""Extractor for e-mail (EML): the addresses in the headers, the bodies, and attachments recursively."""

from __future__ import annotations

import email
import email.policy
import html
import re
from collections.abc import Iterator
from email.message import EmailMessage

from detectors.extract.base import Context, Item, member_origin
from detectors.findings import Layout, Part

ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Sender")
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def html_to_text(markup: str) -> str:
    return html.unescape(_TAGS.sub(" ", markup))


def extract_mail(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    message = email.message_from_bytes(blob, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = [f"{name}: {value}" for name in ADDRESS_HEADERS for value in message.get_all(name, [])]
    subject = message.get("Subject")
    if subject:
        headers.append(f"Subject: {subject}")
    if headers:
        yield Part("\n".join(headers), f"{origin} › headers", Layout.PROSE)
    attachment = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        content_type = part.get_content_type()
        if filename or part.get_content_disposition() == "attachment" or not content_type.startswith("text/"):
            attachment += 1
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                name = member_origin(origin, filename or f"attachment {attachment}")
                yield from context.member(payload, name)
            continue
        try:
            body = part.get_content()
        except (LookupError, UnicodeError):
            raw = part.get_payload(decode=True)
            body = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
        if content_type == "text/html":
            body = html_to_text(body)
        if body.strip():
            yield Part(body, f"{origin} › body", Layout.PROSE)
