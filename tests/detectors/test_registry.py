"""The registry: one explicit list, unique names, every content entity covered."""

from __future__ import annotations

import pytest

from detectors import entities as E
from detectors.recognizers.pii import EmailRecognizer
from detectors.registry import Registry, default_recognizers


def test_default_registry_covers_every_content_entity() -> None:
    registry = Registry(default_recognizers())
    expected = {E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.CREDIT_CARD, E.IBAN_CODE, E.US_SSN, E.SE_PERSONNUMMER, E.NL_BSN,
                E.UK_NINO, E.PRIVATE_KEY, E.AWS_ACCESS_KEY, E.AWS_SECRET_KEY, E.GITHUB_TOKEN, E.SLACK_TOKEN,
                E.GOOGLE_API_KEY, E.STRIPE_SECRET_KEY, E.SENSITIVITY_LABEL, E.STREET_ADDRESS, E.PERSON}
    expected |= E.CREDENTIAL_ENTITIES  # every credential family (issue 13)
    assert registry.entities == expected
    assert [r.name for r in registry.recognizers if E.EMAIL_ADDRESS in r.supported_entities] == ["EmailRecognizer"]
    assert all(r.context for r in registry.recognizers), "every recognizer declares context words"


def test_duplicates_raise() -> None:
    with pytest.raises(ValueError, match="two recognizers are named"):
        Registry([EmailRecognizer(), EmailRecognizer()])
