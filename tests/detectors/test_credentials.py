"""Credentials people leak: true cases, placeholders, documentation examples and near-misses for every family.

Every value is built here from the provider's public format (a seeded random
body with the right prefix, structure and checksum): no real key is copied.
Each row is (text, entity, expected count) through the real scanner, as in
``test_recognizers``.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib

import pytest

from detectors import entities as E
from detectors.findings import Layout, Part
from detectors.masking import mask
from detectors.prefilter import Prefilter
from detectors.registry import Registry, default_recognizers
from detectors.scan import Scanner, ValueHasher

SCANNER = Scanner(Registry(default_recognizers()), ValueHasher(b"k" * 32))
RNG = random.Random(13)
ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


def count(text: str, entity: str, layout: Layout = Layout.PROSE) -> int:
    return sum(f.entity == entity for f in SCANNER.scan_part(Part(text, "t", layout), 0))


def found(text: str, layout: Layout = Layout.PROSE) -> list[tuple[str, str]]:
    """(entity, matched text) of every finding, for span checks."""
    part = Part(text, "t", layout)
    return [(entity, text[start:end]) for start, end, entity in SCANNER.spans(part)]


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def crc_token(prefix: str, *, broken: bool = False) -> str:
    """GitHub/npm style: prefix + 30 random + base62 CRC32 of the random part (6 characters, zero-padded)."""
    body = rand(30)
    value, digits = zlib.crc32(body.encode()), ""
    for _ in range(6):
        value, digit = divmod(value, 62)
        digits = BASE62[digit] + digits
    if broken:
        digits = digits[:-1] + ("A" if digits[-1] != "A" else "B")
    return prefix + body + digits


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(header: dict[str, object], payload: dict[str, object], signature: str | None = None) -> str:
    parts = [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode())]
    return ".".join([*parts, b64url(RNG.randbytes(32)) if signature is None else signature])


def uuid() -> str:
    h = rand(32, HEX)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sas(signature: str | None = None) -> str:
    sig = signature or base64.b64encode(RNG.randbytes(32)).decode()
    encoded = sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    return f"sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-01-31T18:00:00Z&st=2025-01-01T10:00:00Z&spr=https&sig={encoded}"


def pem_body() -> str:
    return "\n".join(rand(64, B64) for _ in range(6))


GITHUB = crc_token("ghp_")
GITHUB_OAUTH = crc_token("gho_")
GITHUB_APP = crc_token("ghs_")
NPM = crc_token("npm_")
AZURE_KEY = rand(86, B64) + "=="
SLACK_BOT = f"xoxb-{rand(12, '0123456789')}-{rand(13, '0123456789')}-{rand(24)}"
SLACK_USER = f"xoxp-{rand(12, '0123456789')}-{rand(12, '0123456789')}-{rand(13, '0123456789')}-{rand(32, HEX)}"
TWILIO_AC, TWILIO_SK = "AC" + rand(32, HEX), "SK" + rand(32, HEX)


def macaroon(location: bytes, signature: bytes = b"\x06\x20") -> str:
    """A version 2 macaroon as PyPI writes it: location, identifier, a caveat, then a 32-byte signature field."""
    identifier = b"\x02\x20" + RNG.randbytes(32)
    caveat = b'\x02\x1c{"version": 1, "permissions": "user"}'[:30]
    return b64url(b"\x02\x01" + bytes([len(location)]) + location + identifier + b"\x00" + caveat + b"\x00\x00"
                  + signature + RNG.randbytes(32))


PYPI_MACAROON = macaroon(b"pypi.org")
TEST_PYPI_MACAROON = macaroon(b"test.pypi.org")
GCP_KEY = {
    "type": "service_account",
    "project_id": "billing-prod-42",
    "private_key_id": rand(40, HEX),
    "private_key": "-----BEGIN PRIVATE KEY-----\n" + pem_body() + "\n-----END PRIVATE KEY-----\n",
    "client_email": "exporter@billing-prod-42.iam.gserviceaccount.com",
    "client_id": rand(21, "0123456789"),
    "token_uri": "https://oauth2.googleapis.com/token",
}
PUTTY = ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@build\nPublic-Lines: 2\n"
         f"{rand(64, B64)}\n{rand(4, B64)}\nPrivate-Lines: 1\n{rand(44, B64)}\nPrivate-MAC: {rand(64, HEX)}\n")
PGP = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nComment: build signing key\n\n"
       f"{pem_body()}\n={rand(4, B64)}\n-----END PGP PRIVATE KEY BLOCK-----\n")
OPENSSH = f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{rand(40, B64)}\n{pem_body()}\n" \
          "-----END OPENSSH PRIVATE KEY-----\n"

CASES = [
    # --- cloud: AWS session tokens (STS: the issuer's marker in the first bytes)
    ("aws_session_token = FwoGZXIvYXdzE" + rand(350, B64) + "==", E.AWS_SESSION_TOKEN, 1),
    ("AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjE" + rand(600, B64), E.AWS_SESSION_TOKEN, 1),
    ("https://b.s3.amazonaws.com/k?X-Amz-Security-Token=IQoJb3JpZ2luX2Vj" + rand(200, ALNUM) + "%2F"
     + rand(200, ALNUM) + "%3D&X-Amz-Signature=abc", E.AWS_SESSION_TOKEN, 1),
    ("FwoGZXIvYXdzE" + "A" * 350, E.AWS_SESSION_TOKEN, 0),  # no randomness
    ("FwoGZXIvYXdzE" + rand(40, B64), E.AWS_SESSION_TOKEN, 0),  # far too short
    # --- Azure storage account keys
    (f"DefaultEndpointsProtocol=https;AccountName=billing;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
     E.AZURE_STORAGE_KEY, 1),
    (f"AZURE_STORAGE_KEY={AZURE_KEY}", E.AZURE_STORAGE_KEY, 1),
    (f"storage account key: {AZURE_KEY}", E.AZURE_STORAGE_KEY, 1),
    # a key given to an account/storage key however the name is written and assigned
    (f"      storageAccountKey: {AZURE_KEY}", E.AZURE_STORAGE_KEY, 1),
    (f'private const string storageAccountKey = "{AZURE_KEY}";', E.AZURE_STORAGE_KEY, 1),
    (f'{{ "SecondaryAccountKey", "{AZURE_KEY}" }},', E.AZURE_STORAGE_KEY, 1),
    (f'static const std::string AzuriteAccountKey{{\n    "{AZURE_KEY}"}};', E.AZURE_STORAGE_KEY, 1),
    (f"AZ_integration_azureStorageAccessKey:{AZURE_KEY}", E.AZURE_STORAGE_KEY, 1),
    (f"AzureStorageCleanup.exe -storagename billing -storagekey {AZURE_KEY} -container backups",
     E.AZURE_STORAGE_KEY, 1),
    (f"azurestorageaccountkey: {AZURE_KEY}", E.AZURE_STORAGE_KEY, 1),
    (f"AccountKey=<from the vault>\n{rand(120, string.ascii_lowercase + ' ')}\nchecksum {AZURE_KEY}",
     E.AZURE_STORAGE_KEY, 0),  # the label is elsewhere: the key beside nothing is any 64 bytes
    (AZURE_KEY, E.AZURE_STORAGE_KEY, 0),  # 88 base64 characters alone: could be any 64 bytes
    (f'"integrity": "sha512-{AZURE_KEY}"', E.AZURE_STORAGE_KEY, 0),  # a package-lock digest
    ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IF"
     "suFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
     E.AZURE_STORAGE_KEY, 0),  # Azurite's published emulator key
    ("AccountName=x;AccountKey=" + "A" * 86 + "==", E.AZURE_STORAGE_KEY, 0),
    # --- Azure SAS tokens
    (f"https://billing.blob.core.windows.net/exports/q3.csv?{sas()}", E.AZURE_SAS_TOKEN, 1),
    (f"BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature={sas()}", E.AZURE_SAS_TOKEN, 1),
    ("https://x.blob.core.windows.net/c/b?sp=r&st=2025-01-01T00:00:00Z&se=2025-02-01T00:00:00Z&spr=https"
     "&sv=2022-11-02&sr=b&sig=" + base64.b64encode(RNG.randbytes(32)).decode().replace("/", "%2F").replace("=", "%3D")
     .replace("+", "%2B"), E.AZURE_SAS_TOKEN, 1),
    ("?sp=r&se=2025-02-01&sig=" + base64.b64encode(RNG.randbytes(32)).decode(), E.AZURE_SAS_TOKEN, 0),  # no sv=
    (f"?sv=2022-11-02&sp=r&se=2025-02-01&sig={rand(44, ALNUM)}", E.AZURE_SAS_TOKEN, 0),  # sig is no 32-byte MAC
    (sas("X" * 43 + "="), E.AZURE_SAS_TOKEN, 0),
    # --- Entra ID (Azure AD) client secrets
    (f"AZURE_CLIENT_SECRET={rand(3)}8Q~{rand(34, ALNUM + '_~.-')}", E.AZURE_CLIENT_SECRET, 1),
    (f'"clientSecret": "{rand(3)}7Q~{rand(31, ALNUM)}"', E.AZURE_CLIENT_SECRET, 1),
    (f"client-secret: -{rand(2)}8Q~{rand(34, ALNUM + '_~.-')}", E.AZURE_CLIENT_SECRET, 1),  # may start with "-"
    (f'"client_id=x\\u0026client_secret=-{rand(2)}8Q~{rand(34)}\\u0026scope=y"', E.AZURE_CLIENT_SECRET, 1),
    ("client_secret=bP88Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", E.AZURE_CLIENT_SECRET, 0),
    ("speel~VARA_101375237~mh17-het-verdriet-van-nederland~.html", E.AZURE_CLIENT_SECRET, 0),
    (f"{rand(3)}8Q~{rand(12)}", E.AZURE_CLIENT_SECRET, 0),  # too short
    # --- GCP service-account key files
    (json.dumps(GCP_KEY, indent=2), E.GCP_SERVICE_ACCOUNT_KEY, 1),
    (json.dumps(GCP_KEY), E.GCP_SERVICE_ACCOUNT_KEY, 1),
    ("GOOGLE_CREDENTIALS=" + json.dumps(json.dumps(GCP_KEY)), E.GCP_SERVICE_ACCOUNT_KEY, 1),  # JSON in a string
    (json.dumps({**GCP_KEY, "type": "authorized_user"}), E.GCP_SERVICE_ACCOUNT_KEY, 0),
    (json.dumps({k: v for k, v in GCP_KEY.items() if k != "private_key"}), E.GCP_SERVICE_ACCOUNT_KEY, 0),
    # --- GitHub (CRC32 in the new formats)
    (f"GITHUB_TOKEN={GITHUB}", E.GITHUB_TOKEN, 1),
    (f"token {GITHUB_OAUTH} and {GITHUB_APP}", E.GITHUB_TOKEN, 2),
    (crc_token("ghp_", broken=True), E.GITHUB_TOKEN, 0),  # checksum fails
    (GITHUB[:-1], E.GITHUB_TOKEN, 0),
    (GITHUB + "x", E.GITHUB_TOKEN, 0),
    ("commit 3f786850e387550fdab836ed7e6dc881de23001b", E.GITHUB_TOKEN, 0),
    # --- GitLab
    (f"GITLAB_TOKEN=glpat-{rand(20, ALNUM + '_-')}", E.GITLAB_TOKEN, 1),
    (f"glpat-{rand(27, ALNUM + '_-')}.01{rand(7, string.ascii_lowercase + string.digits)}", E.GITLAB_TOKEN, 1),
    (f"deploy: gldt-{rand(20)} runner: glrt-{rand(20)} trigger: glptt-{rand(40, HEX)}", E.GITLAB_TOKEN, 3),
    (f"registration token GR1348941{rand(20)}", E.GITLAB_TOKEN, 1),
    ("glpat-XXXXXXXXXXX-XXXXXXXX", E.GITLAB_TOKEN, 0),
    ("GR134894112312312312312312312", E.GITLAB_TOKEN, 0),
    (f"glpat-{rand(12)}", E.GITLAB_TOKEN, 0),
    # --- Bitbucket and Atlassian
    (f"BITBUCKET_APP_PASSWORD=ATBB{rand(24)}{rand(8, '0123456789ABCDEF')}", E.BITBUCKET_TOKEN, 1),
    (f"ATCTT3xFfGF0{rand(150, ALNUM + '_-')}={rand(8, '0123456789ABCDEF')}", E.BITBUCKET_TOKEN, 1),
    ("ATBB" + "k" * 32, E.BITBUCKET_TOKEN, 0),
    (f"JIRA_API_TOKEN=ATATT3xFfGF0{rand(170, ALNUM + '_-')}={rand(8, '0123456789ABCDEF')}",
     E.ATLASSIAN_API_TOKEN, 1),
    ("JIRA_API_TOKEN=ATATT3xFFGF0...", E.ATLASSIAN_API_TOKEN, 0),
    # --- Slack: every token kind, and webhooks
    (f"SLACK_BOT_TOKEN={SLACK_BOT}", E.SLACK_TOKEN, 1),
    (SLACK_USER, E.SLACK_TOKEN, 1),
    (f"xoxe.xoxp-1-{rand(166)}", E.SLACK_TOKEN, 1),
    (f"xoxe.xoxb-1-{rand(163)}", E.SLACK_TOKEN, 1),
    (f"refresh: xoxe-1-{rand(146)}", E.SLACK_TOKEN, 1),
    (f"SLACK_APP_TOKEN=xapp-1-A{rand(10, string.ascii_uppercase + string.digits)}-{rand(13, '0123456789')}-"
     f"{rand(64, HEX)}", E.SLACK_TOKEN, 1),
    (f"xoxa-2-{rand(12, '0123456789')}-{rand(12, '0123456789')}-{rand(13, '0123456789')}-{rand(64, HEX)}",
     E.SLACK_TOKEN, 1),
    (f"xoxs-{rand(10, '0123456789')}-{rand(11, '0123456789')}-{rand(12, '0123456789')}-{rand(64, HEX)}",
     E.SLACK_TOKEN, 1),
    (f"xoxr-{rand(40)}", E.SLACK_TOKEN, 1),
    (f"https://hooks.slack.com/workflows/T0{rand(9, string.ascii_uppercase)}/A0{rand(9, string.ascii_uppercase)}/"
     f"{rand(18, '0123456789')}/{rand(24)}", E.SLACK_TOKEN, 1),
    (f"https://hooks.slack.com/triggers/T0{rand(9, string.ascii_uppercase)}/{rand(13, '0123456789')}/{rand(32, HEX)}",
     E.SLACK_TOKEN, 1),
    (f"xoxs-{rand(10, '0123456789')}-{rand(10, '0123456789')}-{rand(10, '0123456789')}-{''.join(RNG.sample(HEX, 10))}",
     E.SLACK_TOKEN, 1),  # a legacy token: its random part is 10 hex digits
    (f"xapp-1-A{rand(10, string.ascii_uppercase + string.digits)}-{rand(13, '0123456789')}-{rand(64)}",
     E.SLACK_TOKEN, 1),
    (f"xoxp-1234-1234-1234-{rand(32, HEX)}", E.SLACK_TOKEN, 0),  # numbers counted, not given
    (f"xoxb-0000000000-0000000000000-{rand(24)}", E.SLACK_TOKEN, 0),
    ("SLACK_BOT_TOKEN=xoxb-your-token-here", E.SLACK_TOKEN, 0),
    (f"xoxb-{rand(24)}", E.SLACK_TOKEN, 0),  # a bot token names its team
    ("xoxp-123456789012-123456789012-123456789012-" + "0" * 32, E.SLACK_TOKEN, 0),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", E.SLACK_TOKEN, 0),
    ("see https://hooks.slack.com/services/ for webhooks", E.SLACK_TOKEN, 0),
    # --- Teams and Discord webhooks
    (f"https://contoso.webhook.office.com/webhookb2/{uuid()}@{uuid()}/IncomingWebhook/{rand(32, HEX)}/{uuid()}",
     E.TEAMS_WEBHOOK, 1),
    (f"https://contoso.webhook.office.com/webhookb2/{uuid()}@{uuid()}/IncomingWebhook/{rand(32, HEX)}/{uuid()}"
     f"/V2{rand(40, ALNUM + '_-')}", E.TEAMS_WEBHOOK, 1),
    (f"https://outlook.office.com/webhook/{uuid()}@{uuid()}/IncomingWebhook/{rand(32, HEX)}/{uuid()}",
     E.TEAMS_WEBHOOK, 1),
    ("https://contoso.webhook.office.com/webhookb2/", E.TEAMS_WEBHOOK, 0),
    (f"https://discord.com/api/webhooks/{rand(19, '0123456789')}/{rand(68, ALNUM + '_-')}", E.DISCORD_WEBHOOK, 1),
    (f"https://discordapp.com/api/webhooks/{rand(18, '0123456789')}/{rand(68, ALNUM + '_-')}", E.DISCORD_WEBHOOK, 1),
    ("https://discord.com/api/webhooks/123456789012345678/" + "x" * 68, E.DISCORD_WEBHOOK, 0),
    ("https://discord.com/api/webhooks/{id}/{token}", E.DISCORD_WEBHOOK, 0),
    # --- Stripe: secret and restricted, live and test; never publishable
    (f"STRIPE_SECRET_KEY=sk_test_{rand(99)}", E.STRIPE_SECRET_KEY, 1),
    (f"sk_live_{rand(24)}", E.STRIPE_SECRET_KEY, 1),
    (f"rk_live_{rand(99)} rk_test_{rand(24)}", E.STRIPE_SECRET_KEY, 2),
    (f"pk_live_{rand(99)} pk_test_{rand(24)}", E.STRIPE_SECRET_KEY, 0),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", E.STRIPE_SECRET_KEY, 0),  # Stripe's documentation key
    ("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", E.STRIPE_SECRET_KEY, 0),
    ("STRIPE_KEY=sk_test_1234567890abcdefghijklmn", E.STRIPE_SECRET_KEY, 0),  # typed in order, not random
    ("AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", E.AWS_ACCESS_KEY, 0),
    (f"GOOGLE_API_KEY=AIzaSy{string.ascii_lowercase}{rand(7)}", E.GOOGLE_API_KEY, 0),
    # --- Square and Braintree
    (f"SQUARE_ACCESS_TOKEN=EAAA{rand(60, ALNUM + '-_')}", E.SQUARE_TOKEN, 1),
    (f"sq0atp-{rand(22, ALNUM + '-_')} sq0csp-{rand(43, ALNUM + '-_')}", E.SQUARE_TOKEN, 2),
    (f"sq0idp-{rand(22)}", E.SQUARE_TOKEN, 0),  # an application id, public
    ("data:font/woff;base64,AAAAEAAA" + "A" * 60 + rand(40, B64), E.SQUARE_TOKEN, 0),
    (f"EAAA{rand(150)}", E.SQUARE_TOKEN, 0),  # longer: not Square's
    (f"BT_TOKEN=access_token$production${rand(16, string.ascii_lowercase + string.digits)}${rand(32, HEX)}",
     E.BRAINTREE_TOKEN, 1),
    (f"access_token$sandbox${rand(16, string.ascii_lowercase)}${rand(32, HEX)}", E.BRAINTREE_TOKEN, 1),
    ("access_token$production$merchant_id$access_token", E.BRAINTREE_TOKEN, 0),
    # --- Twilio: a secret beside its SID, never a SID alone
    (f"TWILIO_ACCOUNT_SID={TWILIO_AC}\nTWILIO_AUTH_TOKEN={rand(32, HEX)}", E.TWILIO_API_KEY, 1),
    (f"TWILIO_API_KEY={TWILIO_SK}\nTWILIO_API_SECRET={rand(32)}", E.TWILIO_API_KEY, 1),
    (f"curl -u {TWILIO_SK}:{rand(32)} https://api.twilio.com/2010-04-01/Accounts.json", E.TWILIO_API_KEY, 1),
    (f"account {TWILIO_AC} sent 3 messages", E.TWILIO_API_KEY, 0),
    (f"TWILIO_ACCOUNT_SID={TWILIO_AC}\nmessage hash {rand(32, HEX)}", E.TWILIO_API_KEY, 0),  # no label
    (f"TWILIO_ACCOUNT_SID={TWILIO_AC}\nTWILIO_AUTH_TOKEN=your_auth_token", E.TWILIO_API_KEY, 0),
    (f"TWILIO_AUTH_TOKEN={rand(32, HEX)}", E.TWILIO_API_KEY, 0),  # no SID: could be any 32 hex digits
    # --- SendGrid, Mailgun, Mailchimp
    (f"SENDGRID_API_KEY=SG.{rand(22, ALNUM + '-_')}.{rand(43, ALNUM + '-_')}", E.SENDGRID_API_KEY, 1),
    (f"SG.{rand(22)}.{rand(20)}", E.SENDGRID_API_KEY, 0),
    (f"MAILGUN_API_KEY=key-{rand(32, string.ascii_lowercase + string.digits)}", E.MAILGUN_API_KEY, 1),
    (f"mailgun: key-{rand(32, HEX)}", E.MAILGUN_API_KEY, 1),
    (f"mailgun private key {rand(32, HEX)}-{rand(8, HEX)}-{rand(8, HEX)}", E.MAILGUN_API_KEY, 1),
    (f"cache key-{rand(32, HEX)}", E.MAILGUN_API_KEY, 0),  # a hash with a key- label
    ("key-3ax6xnjp29jd6fds4gc373sgvjxteol0", E.MAILGUN_API_KEY, 0),  # Mailgun's documentation key
    (f"MAILCHIMP_KEY={rand(32, HEX)}-us21", E.MAILCHIMP_API_KEY, 1),
    (f"{rand(32, HEX)}-us6", E.MAILCHIMP_API_KEY, 1),
    (f"{rand(32, HEX)}-usa", E.MAILCHIMP_API_KEY, 0),
    (f"{'0' * 32}-us21", E.MAILCHIMP_API_KEY, 0),
    # --- OpenAI and Anthropic
    (f"OPENAI_API_KEY=sk-{rand(20)}T3BlbkFJ{rand(20)}", E.OPENAI_API_KEY, 1),
    (f"sk-proj-{rand(74, ALNUM + '-_')}T3BlbkFJ{rand(74, ALNUM + '-_')}", E.OPENAI_API_KEY, 1),
    (f"sk-svcacct-{rand(58, ALNUM + '-_')}T3BlbkFJ{rand(58, ALNUM + '-_')}", E.OPENAI_API_KEY, 1),
    (f"sk-{rand(48)}", E.OPENAI_API_KEY, 0),  # no marker: any "sk-" string
    ("sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxT3BlbkFJxxxxxxxxxxxxxxxxxxxx", E.OPENAI_API_KEY, 0),
    (f"ANTHROPIC_API_KEY=sk-ant-api03-{rand(93, ALNUM + '-_')}AA", E.ANTHROPIC_API_KEY, 1),
    (f"sk-ant-admin01-{rand(93, ALNUM + '-_')}AA", E.ANTHROPIC_API_KEY, 1),
    (f"sk-ant-oat01-{rand(95, ALNUM + '-_')}", E.ANTHROPIC_API_KEY, 1),
    (f"sk-ant-api03-{rand(93, ALNUM + '-_')}BB", E.ANTHROPIC_API_KEY, 0),
    ("sk-ant-api03-...", E.ANTHROPIC_API_KEY, 0),
    # --- npm (CRC32) and PyPI (a pypi.org macaroon)
    (f"//registry.npmjs.org/:_authToken={NPM}", E.NPM_TOKEN, 1),
    (crc_token("npm_", broken=True), E.NPM_TOKEN, 0),
    (f"password = pypi-{PYPI_MACAROON}", E.PYPI_TOKEN, 1),
    (f"pypi-{macaroon(b'pypi.org', signature=b'')}", E.PYPI_TOKEN, 0),  # no signature field: not a macaroon
    (f"pypi-{TEST_PYPI_MACAROON}", E.PYPI_TOKEN, 1),
    ("pypi-AgEIcHlwaS5vcmc" + "A" * 80, E.PYPI_TOKEN, 0),
    # --- private keys: PEM, OpenSSH, PGP (also at the very start of a text), PuTTY
    (OPENSSH, E.PRIVATE_KEY, 1),
    (PGP, E.PRIVATE_KEY, 1),
    (f"Signing key for the release:\n\n{PGP}", E.PRIVATE_KEY, 1),
    (f"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{pem_body()}\n-----END PGP PUBLIC KEY BLOCK-----", E.PRIVATE_KEY, 0),
    (PUTTY, E.PRIVATE_KEY, 1),
    (PUTTY.replace("\n", "\r\n"), E.PRIVATE_KEY, 1),
    ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAA\nPrivate-Lines: 1\n"
     + "A" * 44 + "\n", E.PRIVATE_KEY, 0),
    ("PuTTY-User-Key-File-2: ssh-rsa\nPublic-Lines: 6\n" + rand(64, B64), E.PRIVATE_KEY, 0),  # no private lines
    # --- passwords in URLs (any scheme)
    (f"DATABASE_URL=postgres://billing:{rand(16)}@db.internal:5432/billing", E.PASSWORD, 1),
    (f"mongodb+srv://app:{rand(12)}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true", E.PASSWORD, 1),
    ("redis://:Tr0ub4dor&3@cache.corp.local:6379/0", E.PASSWORD, 1),
    ("amqp://orders:p%40ss%2Fw0rd!@mq.corp.local:5672/vhost", E.PASSWORD, 1),
    ("mysql://root:S3cr3t!@localhost/app", E.PASSWORD, 1),
    ("https://deploy:hunter2@git.corp.local/repo.git and ftp://ops:Winter2024!@files.corp.local", E.PASSWORD, 2),
    ("smtp://mailer:p@ss@smtp.corp.local:587", E.PASSWORD, 1),  # an "@" in the password
    ("jdbc:mysql://app:Qz7!rT9@db.corp.local:3306/shop", E.PASSWORD, 1),
    ("postgres://user:password@host:5432/db", E.PASSWORD, 0),
    ("postgres://user:pass@db.corp.local/db", E.PASSWORD, 0),
    ("postgres://app:${DB_PASSWORD}@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:$DB_PASSWORD@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:<password>@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:****@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:%s@%s/app", E.PASSWORD, 0),
    ("postgres://app:{password}@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:{{ db_password }}@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:changeme@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:DB_PASSWORD@db.corp.local/app", E.PASSWORD, 0),
    ("postgres://app:Kx93!mq@db.example.com/app", E.PASSWORD, 0),  # a documentation host
    ("amqp://guest:guest@localhost:5672/", E.PASSWORD, 0),  # the product's default
    ("ftp://anonymous:me@corp.local@ftp.gnu.org/gnu/", E.PASSWORD, 0),
    ("postgres://app@db.corp.local/app and https://user:@host.corp.local/", E.PASSWORD, 0),  # no password
    ("https://www.google.com/maps/@52.37,4.89,14z and http://localhost:8080/path", E.PASSWORD, 0),
    ("see http://10.0.0.1:8080/status, mail ops@corp.local", E.PASSWORD, 0),
    # --- passwords in connection strings
    ("Server=tcp:sql.corp.local,1433;Initial Catalog=billing;User ID=app;Password=Vx8#kq2!Lp;Encrypt=True;",
     E.PASSWORD, 1),
    ("Driver={ODBC Driver 18 for SQL Server};Server=sql01;Database=hr;Uid=hr_app;Pwd={a;b}}c7Q!};", E.PASSWORD, 1),
    ("jdbc:sqlserver://sql01:1433;databaseName=hr;user=hr_app;password=Zq4!xP9w;", E.PASSWORD, 1),
    ("jdbc:postgresql://db01/hr?user=hr_app&password=Zq4xP9w2&ssl=true", E.PASSWORD, 1),
    ('"ConnectionStrings": {"Db": "Data Source=sql01;User Id=sa;Password=\\"Ab3$ef9!\\";"}', E.PASSWORD, 1),
    ("Server=sql01;Database=hr;User Id=app;Password={your_password};", E.PASSWORD, 0),
    ("Server=sql01;Database=hr;User Id=app;Password=<password>;", E.PASSWORD, 0),
    ("Server=sql01;Database=hr;User Id=app;Password=********;", E.PASSWORD, 0),
    ("Server=sql01;Database=hr;User Id=app;Password=%s;", E.PASSWORD, 0),
    ("Server=myServerAddress;Database=myDataBase;User Id=myUsername;Password=myPassword;", E.PASSWORD, 0),
    ("Server=sql01;Database=hr;User Id=app;Password=myPassw0rd!;", E.PASSWORD, 1),  # a (weak) real password
    ("password=hunter2", E.PASSWORD, 0),  # a bare assignment: no connection string around it
    ("DB_PASSWORD=hunter2;", E.PASSWORD, 0),
    ("Reset your password = easy, see the intranet; user guide p. 4", E.PASSWORD, 0),
    # --- JSON Web Tokens
    (f"Authorization: Bearer {jwt({'alg': 'HS256', 'typ': 'JWT'}, {'sub': 'u-1842', 'exp': 1767225600})}", E.JWT, 1),
    (jwt({"alg": "RS256", "kid": rand(8)}, {"iss": "https://login.corp.local", "sub": "42"},
         b64url(RNG.randbytes(256))), E.JWT, 1),
    (jwt({"alg": "none"}, {"sub": "42"}, rand(43, B64URL)), E.JWT, 0),  # unsigned: not a credential
    (jwt({"alg": "none"}, {"sub": "42"}, "").rstrip("."), E.JWT, 0),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
     "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", E.JWT, 0),  # jwt.io's example
    (jwt({"typ": "JWT"}, {"sub": "42"}), E.JWT, 0),  # no alg
    (f"eyJ{rand(30, B64URL)}.eyJ{rand(30, B64URL)}.{rand(43, B64URL)}", E.JWT, 0),  # not JSON inside
    (jwt({"alg": "HS256"}, {"sub": "42"}) + "." + rand(20, B64URL) + "." + rand(22, B64URL), E.JWT, 0),  # a JWE
]


@pytest.mark.parametrize(("text", "entity", "expected"), CASES,
                         ids=[f"{e}-{i}-expect-{n}" for i, (_, e, n) in enumerate(CASES)])
def test_credential_cases(text: str, entity: str, expected: int) -> None:
    assert count(text, entity) == expected


NEAR_MISSES = [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b, tree 9c1185a5c5e9fc54612808977ee8f548b2258d31",
    f"request id {uuid()} and {uuid()}",
    f"md5 {rand(32, HEX)} sha256 {rand(64, HEX)} sha512 {rand(128, HEX)}",
    "<img src=\"data:image/png;base64," + base64.b64encode(RNG.randbytes(3000)).decode() + "\">",
    f"pk_live_{rand(99)}",
    f"Twilio account {TWILIO_AC} is our messaging account",
    "See https://docs.example.com/setup and ssh://git@github.com:22/org/repo.git",
    "Dear team, the password policy changed: passwords need 12 characters. The Q3 KPIs are in the deck.",
    "sku,name,category,price,stock\nP0000001,lamp chair,desk,12.34,456\nP0000002,mug shelf,cable,9.99,12\n",
    "a=1&b=2&sig=short&sv=2020-01-01",
    "https://user@example.com:8443/path?x=1",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_no_credentials(text: str) -> None:
    found_here = [f.entity for f in SCANNER.scan_part(Part(text, "t"), 0)]
    assert not set(found_here) & E.CREDENTIAL_ENTITIES


def test_only_the_secret_is_reported_not_the_text_around_it() -> None:
    text = (f"postgres://billing:Kx93mq7Z@db.corp.local/b\n"
            f"Server=sql01;User Id=app;Password=\"Vx8#kq2!Lp\";\n"
            f"DefaultEndpointsProtocol=https;AccountName=b;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net\n"
            f"TWILIO_ACCOUNT_SID={TWILIO_AC}\nTWILIO_AUTH_TOKEN=9f0c3e1b7a2d4c6e8f0a1b3c5d7e9f21\n")
    assert found(text) == [(E.PASSWORD, "billing:Kx93mq7Z@db.corp.local"), (E.PASSWORD, "Vx8#kq2!Lp"),
                           (E.AZURE_STORAGE_KEY, AZURE_KEY),
                           (E.TWILIO_API_KEY, "9f0c3e1b7a2d4c6e8f0a1b3c5d7e9f21")]


def test_a_service_account_key_file_is_a_key_file_and_a_private_key() -> None:
    entities = sorted(entity for entity, _ in found(json.dumps(GCP_KEY, indent=2)) if entity in E.CREDENTIAL_ENTITIES)
    assert entities == [E.GCP_SERVICE_ACCOUNT_KEY, E.PRIVATE_KEY]


def test_a_key_file_read_by_the_json_extractor_is_found() -> None:
    # Detour's JSON extraction renders an object as "key: value" cells joined by tabs, newlines folded.
    cells = "\t".join(f"{key}: {' '.join(str(value).split())}" for key, value in GCP_KEY.items())
    entities = sorted(entity for entity, _ in found(cells, Layout.STRUCTURED) if entity in E.CREDENTIAL_ENTITIES)
    assert entities == [E.GCP_SERVICE_ACCOUNT_KEY, E.PRIVATE_KEY]


def test_a_pgp_key_at_the_very_start_of_a_text_is_found() -> None:
    [(entity, value)] = found(PGP)
    assert entity == E.PRIVATE_KEY and value.startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")


def test_credentials_in_a_table_cell_are_found() -> None:
    table = f"service\tsecret\nbilling\t{GITHUB}\nmail\tSG.{rand(22)}.{rand(43)}"
    assert count(table, E.GITHUB_TOKEN, Layout.TABLE) == 1
    assert count(table, E.SENDGRID_API_KEY, Layout.TABLE) == 1


@pytest.mark.parametrize(
    ("entity", "raw", "masked"),
    [
        (E.PASSWORD, "Vx8#kq2!Lp", "[password, 10 chars]"),
        (E.GITHUB_TOKEN, GITHUB, "ghp_… (40 chars)"),
        (E.SLACK_TOKEN, "xoxe.xoxp-1-" + "a" * 166, "xoxe.xoxp-… (178 chars)"),
        (E.ANTHROPIC_API_KEY, "sk-ant-api03-" + "a" * 95, "sk-ant-api03-… (108 chars)"),
        (E.OPENAI_API_KEY, "sk-proj-" + "a" * 156, "sk-proj-… (164 chars)"),
        (E.AZURE_STORAGE_KEY, AZURE_KEY, "… (88 chars)"),
        (E.TWILIO_API_KEY, "9f0c3e1b7a2d4c6e8f0a1b3c5d7e9f21", "… (32 chars)"),
        (E.PRIVATE_KEY, PUTTY, f"PuTTY-User-Key-File-3: … ({len(PUTTY.strip())} chars)"),
    ],
)
def test_credential_masks_keep_the_format_prefix_and_length_only(entity: str, raw: str, masked: str) -> None:
    assert mask(entity, raw) == masked


def test_findings_never_carry_the_secret() -> None:
    secrets = [GITHUB, NPM, SLACK_BOT, AZURE_KEY, "Kx93mq7Z"]
    text = " ".join(secrets[:3]) + f"\nAccountName=b;AccountKey={AZURE_KEY};\nmysql://app:Kx93mq7Z@db.corp.local/x"
    findings = SCANNER.scan_part(Part(text, "t"), 0)
    assert len(findings) == 5
    for finding in findings:
        assert not any(secret[-8:] in finding.masked for secret in secrets)


def test_windows_never_change_what_is_found() -> None:
    """Every recognizer's triggers are a superset: the tiered scan finds what a scan of all the text finds."""
    everything = Scanner(SCANNER.registry, ValueHasher(b"k" * 32))
    everything.prefilter = Prefilter([[] for _ in SCANNER.registry.recognizers])
    for text, _, _ in CASES:
        padded = f"{rand(300, string.ascii_lowercase + ' ')}\n{text}\n{rand(300, string.ascii_lowercase + ' ')}"
        for sample in (text, padded):
            part = Part(sample, "t")
            assert [(f.entity, f.digest) for f in SCANNER.scan_part(part, 0)] == \
                [(f.entity, f.digest) for f in everything.scan_part(part, 0)], sample[:80]


def test_random_secrets_are_not_taken_for_typed_sequences() -> None:
    """The run of consecutive characters that marks a typed placeholder ("abcdefgh") never turns up by chance."""
    from detectors.recognizers.secrets import has_sequence

    assert has_sequence("sk_test_1234567890abcdef") and has_sequence("AIzaSyabcdefghijklmnop")
    assert not has_sequence("ab12cd34ef56") and not has_sequence("1234567")
    assert not any(has_sequence(rand(64)) for _ in range(5000))
    assert not any(has_sequence(rand(64, HEX)) for _ in range(5000))
