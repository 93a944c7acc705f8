"""Names of the entity types Detour's detectors report.

Policies refer to these names (``detectors: [EMAIL_ADDRESS, PHONE_NUMBER]``), so
they are part of the public contract and never change meaning.
"""

from collections.abc import Iterable

EMAIL_ADDRESS = "EMAIL_ADDRESS"
PHONE_NUMBER = "PHONE_NUMBER"
CREDIT_CARD = "CREDIT_CARD"
IBAN_CODE = "IBAN_CODE"
US_SSN = "US_SSN"
SE_PERSONNUMMER = "SE_PERSONNUMMER"
NL_BSN = "NL_BSN"
UK_NINO = "UK_NINO"
PRIVATE_KEY = "PRIVATE_KEY"
AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
AWS_SECRET_KEY = "AWS_SECRET_KEY"
GITHUB_TOKEN = "GITHUB_TOKEN"
SLACK_TOKEN = "SLACK_TOKEN"
GOOGLE_API_KEY = "GOOGLE_API_KEY"
STRIPE_SECRET_KEY = "STRIPE_SECRET_KEY"  # secret and restricted keys, live and test
# Credentials, one name per family (issue 13): cloud…
AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN"
AZURE_STORAGE_KEY = "AZURE_STORAGE_KEY"  # a storage account key, alone or in a connection string
AZURE_SAS_TOKEN = "AZURE_SAS_TOKEN"
AZURE_CLIENT_SECRET = "AZURE_CLIENT_SECRET"  # Entra ID (Azure AD) application secrets
GCP_SERVICE_ACCOUNT_KEY = "GCP_SERVICE_ACCOUNT_KEY"  # a key file, found at its private_key_id
# … code hosting …
GITLAB_TOKEN = "GITLAB_TOKEN"
BITBUCKET_TOKEN = "BITBUCKET_TOKEN"
ATLASSIAN_API_TOKEN = "ATLASSIAN_API_TOKEN"
# … chat (Slack's webhooks are SLACK_TOKEN) …
TEAMS_WEBHOOK = "TEAMS_WEBHOOK"
DISCORD_WEBHOOK = "DISCORD_WEBHOOK"
# … payments …
SQUARE_TOKEN = "SQUARE_TOKEN"
BRAINTREE_TOKEN = "BRAINTREE_TOKEN"
# … SaaS and AI …
TWILIO_API_KEY = "TWILIO_API_KEY"  # an API key secret or auth token beside its SID, never a SID alone
SENDGRID_API_KEY = "SENDGRID_API_KEY"
MAILGUN_API_KEY = "MAILGUN_API_KEY"
MAILCHIMP_API_KEY = "MAILCHIMP_API_KEY"
OPENAI_API_KEY = "OPENAI_API_KEY"
ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
NPM_TOKEN = "NPM_TOKEN"
PYPI_TOKEN = "PYPI_TOKEN"
# … and generic: a password in a URL or a connection string, a signed JSON Web Token.
PASSWORD = "PASSWORD"
JWT = "JWT"
# A person's name: from a name column or field (tables, JSON), or the optional NER extra in prose.
PERSON = "PERSON"
# A postal address, known by its column or field name (tables, JSON).
STREET_ADDRESS = "STREET_ADDRESS"
# A Confidential (or stricter) sensitivity label or classification marking.
SENSITIVITY_LABEL = "SENSITIVITY_LABEL"

# Not content: the upload (or a part of it) could not be inspected.
UNSCANNABLE = "UNSCANNABLE"
# Not content: a detector failed on this part; the part was not fully inspected.
DETECTOR_ERROR = "DETECTOR_ERROR"

# Entity types that are credentials: masked to their non-random prefix and length.
CREDENTIAL_ENTITIES = frozenset({
    PRIVATE_KEY, AWS_ACCESS_KEY, AWS_SECRET_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_KEY, AZURE_SAS_TOKEN,
    AZURE_CLIENT_SECRET, GCP_SERVICE_ACCOUNT_KEY, GOOGLE_API_KEY, GITHUB_TOKEN, GITLAB_TOKEN, BITBUCKET_TOKEN,
    ATLASSIAN_API_TOKEN, SLACK_TOKEN, TEAMS_WEBHOOK, DISCORD_WEBHOOK, STRIPE_SECRET_KEY, SQUARE_TOKEN,
    BRAINTREE_TOKEN, TWILIO_API_KEY, SENDGRID_API_KEY, MAILGUN_API_KEY, MAILCHIMP_API_KEY, OPENAI_API_KEY,
    ANTHROPIC_API_KEY, NPM_TOKEN, PYPI_TOKEN, PASSWORD, JWT,
})
# Entity types that identify a person's contact channel; used to count people.
CONTACT_ENTITIES = frozenset({EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS})


def sweepable(detectors: Iterable[str]) -> bool:
    """Whether a detector's dense table columns may be counted in bulk (``detectors.sweep``): contact data
    and names, never values with a check digit or a national format (each of those is checked on its own)."""
    return set(detectors) <= (CONTACT_ENTITIES | {PERSON}) - {STREET_ADDRESS}
