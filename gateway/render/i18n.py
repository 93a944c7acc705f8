"""Languages: English, Swedish and Dutch. Pick one from a request; translate Detour's own texts.

Texts IT writes (reasons, routes, helpdesk messages) live in the policy files.
Detour's own texts (the labels of the CLI answer and of the decision page) are
gettext messages in English, translated in the Babel catalogues under
``gateway/render/locale/<language>/LC_MESSAGES/detour.po``. ``make translations``
extracts new messages and updates the catalogues; a test fails while any
message is untranslated, fuzzy or has placeholders that don't match.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from alternatives.catalogue import DEFAULT_LANGUAGE, LANGUAGES, Language

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "detour"
SOURCE_LANGUAGE: Language = "en"  # the messages in the code are English
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "sv": "Svenska", "nl": "Nederlands"}


def N_(message: str) -> str:  # noqa: N802 - the conventional name for "mark for translation, translate later"
    return message


@cache
def translations(language: Language) -> _gettext.NullTranslations:
    """The catalogue of a language (English: the messages themselves), compiled from its .po file once."""
    if language == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)


def translator(language: Language) -> Callable[[str], str]:
    """``_`` for a language: ``_("Reference")`` → ``"Referens"`` in Swedish."""
    return translations(language).gettext


def parse_language(value: str | None) -> Language | None:
    """'sv', 'sv-SE', 'SV_se' → 'sv'; anything unsupported → None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return next((language for language in LANGUAGES if language == primary), None)


def negotiate(accept_language: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """The best supported language in an Accept-Language header (RFC 9110 q-values)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, Language]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        language = parse_language(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else default
