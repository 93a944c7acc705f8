"""Names of the entity types Detour's detectors report.

Policies refer to these names (``detectors: [EMAIL_ADDRESS, PHONE_NUMBER]``), so
they are part of the public contract and never change meaning.
"""

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
STRIPE_SECRET_KEY = "STRIPE_SECRET_KEY"
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

# Entity types that identify a person's contact channel; used to count people.
CONTACT_ENTITIES = frozenset({EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS})
