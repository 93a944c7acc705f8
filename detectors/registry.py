"""The one registry of detectors: every recognizer Detour runs, in one explicit list.

Like Presidio's ``RecognizerRegistry`` with its predefined recognizers, and
mitmproxy's ``default_addons()``: no import-time discovery. Two recognizers
with the same name, or claiming the same entity, are a programming error.
"""

from __future__ import annotations

from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer

from detectors.recognizers import columns, credentials, labels, pii, secrets


def default_recognizers(ner_model: str = "", ner_max_chars: int = 100_000) -> list[EntityRecognizer]:
    """The shipped recognizers; with ``ner_model`` (a spaCy pipeline) also names in prose (the NER extra)."""
    extra: list[EntityRecognizer] = []
    if ner_model:
        from detectors.recognizers.ner import SpacyPersonRecognizer  # spaCy loads only when asked for

        extra.append(SpacyPersonRecognizer(ner_model, ner_max_chars))
    return [
        pii.EmailRecognizer(),
        pii.PhoneRecognizer(),
        pii.CreditCardRecognizer(),
        pii.IbanRecognizer(),
        pii.UsSsnRecognizer(),
        pii.SePersonnummerRecognizer(),
        pii.NlBsnRecognizer(),
        pii.UkNinoRecognizer(),
        secrets.PrivateKeyRecognizer(),
        secrets.AwsAccessKeyRecognizer(),
        secrets.AwsSecretKeyRecognizer(),
        secrets.AwsSessionTokenRecognizer(),
        secrets.AzureClientSecretRecognizer(),
        secrets.GoogleApiKeyRecognizer(),
        secrets.GithubTokenRecognizer(),
        secrets.GitlabTokenRecognizer(),
        secrets.BitbucketTokenRecognizer(),
        secrets.AtlassianApiTokenRecognizer(),
        secrets.SlackTokenRecognizer(),
        secrets.TeamsWebhookRecognizer(),
        secrets.DiscordWebhookRecognizer(),
        secrets.StripeSecretKeyRecognizer(),
        secrets.SquareTokenRecognizer(),
        secrets.BraintreeTokenRecognizer(),
        secrets.SendgridApiKeyRecognizer(),
        secrets.MailgunApiKeyRecognizer(),
        secrets.MailchimpApiKeyRecognizer(),
        secrets.OpenaiApiKeyRecognizer(),
        secrets.AnthropicApiKeyRecognizer(),
        secrets.NpmTokenRecognizer(),
        secrets.PypiTokenRecognizer(),
        secrets.JwtRecognizer(),
        credentials.AzureStorageKeyRecognizer(),
        credentials.AzureSasTokenRecognizer(),
        credentials.GcpServiceAccountKeyRecognizer(),
        credentials.TwilioApiKeyRecognizer(),
        credentials.PasswordRecognizer(),
        columns.StreetAddressRecognizer(),
        columns.PersonColumnRecognizer(),
        labels.SensitivityLabelRecognizer(),
        *extra,
    ]


class Registry:
    """An immutable set of recognizers with unique names, and the entities they report.

    An entity may have several recognizers (PERSON: name columns, and the optional NER extra).
    """

    def __init__(self, recognizers: Iterable[EntityRecognizer]) -> None:
        self.recognizers: tuple[EntityRecognizer, ...] = tuple(recognizers)
        names: set[str] = set()
        for recognizer in self.recognizers:
            if recognizer.name in names:
                raise ValueError(f"two recognizers are named {recognizer.name!r}")
            names.add(recognizer.name)
        self.entities: frozenset[str] = frozenset(e for r in self.recognizers for e in r.supported_entities)
