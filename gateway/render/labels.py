"""What people read for a detector and a masked example: "e-mail address", not EMAIL_ADDRESS; "55 characters",
in their language, not "(55 chars)". Programs read the detector's name (``type``); a finding's ``examples``
are for people, in the decision's language like its other texts (the store keeps them language-neutral)."""

from __future__ import annotations

import re
from collections.abc import Callable

from detectors import entities as e
from gateway.render.i18n import N_

LABELS = {
    e.EMAIL_ADDRESS: N_("e-mail address"), e.PHONE_NUMBER: N_("phone number"),
    e.STREET_ADDRESS: N_("street address"), e.PERSON: N_("name"), e.CREDIT_CARD: N_("payment card number"),
    e.IBAN_CODE: N_("bank account number (IBAN)"), e.US_SSN: N_("US Social Security number"),
    e.SE_PERSONNUMMER: N_("Swedish personal identity number"), e.NL_BSN: N_("Dutch citizen service number (BSN)"),
    e.UK_NINO: N_("UK National Insurance number"), e.PRIVATE_KEY: N_("private key"), e.PASSWORD: N_("password"),
    e.JWT: N_("signed access token (JWT)"), e.SENSITIVITY_LABEL: N_("sensitivity label"),
    e.UNSCANNABLE: N_("content that can't be checked"), e.DETECTOR_ERROR: N_("a check that failed"),
}
# Credentials are named by whose they are: the brand is the same in every language.
PROVIDERS = {
    e.AWS_ACCESS_KEY: "AWS", e.AWS_SECRET_KEY: "AWS", e.AWS_SESSION_TOKEN: "AWS", e.GITHUB_TOKEN: "GitHub",
    e.SLACK_TOKEN: "Slack", e.GOOGLE_API_KEY: "Google", e.STRIPE_SECRET_KEY: "Stripe", e.AZURE_STORAGE_KEY: "Azure",
    e.AZURE_SAS_TOKEN: "Azure", e.AZURE_CLIENT_SECRET: "Microsoft Entra ID",
    e.GCP_SERVICE_ACCOUNT_KEY: "Google Cloud", e.GITLAB_TOKEN: "GitLab", e.BITBUCKET_TOKEN: "Bitbucket",
    e.ATLASSIAN_API_TOKEN: "Atlassian", e.TEAMS_WEBHOOK: "Microsoft Teams", e.DISCORD_WEBHOOK: "Discord",
    e.SQUARE_TOKEN: "Square", e.BRAINTREE_TOKEN: "PayPal Braintree", e.TWILIO_API_KEY: "Twilio",
    e.SENDGRID_API_KEY: "SendGrid", e.MAILGUN_API_KEY: "Mailgun", e.MAILCHIMP_API_KEY: "Mailchimp",
    e.OPENAI_API_KEY: "OpenAI", e.ANTHROPIC_API_KEY: "Anthropic", e.NPM_TOKEN: "npm", e.PYPI_TOKEN: "PyPI",
}
EDM_PREFIX = "EDM:"  # a registered dataset's detector: EDM:customers
_LENGTH = re.compile(r"\((\d+) chars\)|\[password, (\d+) chars\]|\[redacted (\d+) chars\]")


def label(entity: str, _: Callable[[str], str]) -> str:
    """A detector's name for people, in the language of ``_``; a detector of a policy's own (an EDM set, a
    custom recognizer) keeps its name, readably."""
    if entity in LABELS:
        return _(LABELS[entity])
    if entity in PROVIDERS:
        return _("{provider} key or token").format(provider=PROVIDERS[entity])
    if entity.startswith(EDM_PREFIX):
        return _("a record of {dataset}").format(dataset=entity[len(EDM_PREFIX):])
    return entity.replace("_", " ").lower()


def shown(example: str, _: Callable[[str], str]) -> str:
    """A masked example for people: its length in words of their language."""
    def words(match: re.Match[str]) -> str:
        secret, password, other = match.groups()
        if password is not None:
            return "[" + _("password, {n} characters").format(n=password) + "]"
        if other is not None:
            return "[" + _("hidden, {n} characters").format(n=other) + "]"
        return "(" + _("{n} characters").format(n=secret) + ")"
    return _LENGTH.sub(words, example)
