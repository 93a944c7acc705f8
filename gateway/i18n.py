"""Languages: pick English, Swedish or Dutch from a request, and the fixed texts of the CLI.

Texts IT writes (reasons, routes, helpdesk) live in the policy files; the few
fixed labels Detour itself prints live here.
"""

from __future__ import annotations

from alternatives.catalogue import DEFAULT_LANGUAGE, LANGUAGES, Language

LABELS: dict[Language, dict[str, str]] = {
    "en": {
        "allow": "ALLOWED",
        "warn": "WARNING",
        "block": "BLOCKED",
        "destination": "Destination",
        "why": "Why",
        "found": "Found",
        "instead": "What you can do instead",
        "helpdesk": "Message from the helpdesk",
        "reference": "Reference",
        "nothing": "Nothing sensitive was found for this destination.",
        "allowed_with_findings": "Allowed: nothing here is restricted for this destination.",
        "partial": "Detour stopped checking once this was clear; the file may contain more.",
    },
    "sv": {
        "allow": "TILLÅTEN",
        "warn": "VARNING",
        "block": "STOPPAD",
        "destination": "Mottagare",
        "why": "Varför",
        "found": "Hittat",
        "instead": "Det här kan du göra i stället",
        "helpdesk": "Meddelande från IT-supporten",
        "reference": "Referens",
        "nothing": "Inget känsligt hittades för den här mottagaren.",
        "allowed_with_findings": "Tillåten: inget här är begränsat för den här mottagaren.",
        "partial": "Detour slutade kontrollera när detta stod klart; filen kan innehålla mer.",
    },
    "nl": {
        "allow": "TOEGESTAAN",
        "warn": "WAARSCHUWING",
        "block": "GEBLOKKEERD",
        "destination": "Bestemming",
        "why": "Waarom",
        "found": "Gevonden",
        "instead": "Dit kun je in plaats daarvan doen",
        "helpdesk": "Bericht van de servicedesk",
        "reference": "Referentie",
        "nothing": "Er is niets gevoeligs gevonden voor deze bestemming.",
        "allowed_with_findings": "Toegestaan: niets hiervan is beperkt voor deze bestemming.",
        "partial": "Detour stopte met controleren zodra dit duidelijk was; het bestand kan meer bevatten.",
    },
}


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
