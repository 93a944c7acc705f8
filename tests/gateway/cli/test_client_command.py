"""``detour client``: IT makes, lists, rotates and revokes API client tokens; the store keeps hashes only."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from gateway.settings import Settings
from gateway.store.clients import ApiClients
from gateway.store.models import ClientRow
from gateway.store.store import DecisionStore, sqlite_url

DETOUR = str(Path(sys.executable).parent / "detour")


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DETOUR, "client", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DETOUR_DATA_DIR": str(data_dir)})


def test_it_makes_lists_rotates_and_revokes_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "No API clients" in run("list", data_dir=data).stderr
    made = run("token", "create", "mitmproxy-office", "--may-assert-user", data_dir=data)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()  # alone on standard output: a script can take it
    assert token.startswith("dtr_") and "shown only now" in made.stderr and "Authorization: Bearer" in made.stderr
    database = data / "detour.db"
    assert token.encode() not in database.read_bytes()
    assert hashlib.sha256(token.encode()).hexdigest().encode() in database.read_bytes()
    assert run("token", "create", "nightly-export", "--days", "30", data_dir=data).returncode == 0

    listed = run("list", data_dir=data).stdout.splitlines()
    assert listed[0].startswith("mitmproxy-office\tmay name users") and "no expiry" in listed[0]
    assert listed[1].startswith("nightly-export\tanonymous uploads") and "expires" in listed[1]

    clients = ApiClients(DecisionStore(sqlite_url(Settings(data_dir=data).data_dir)))
    found = clients.find(token)
    assert found is not None and found.may_assert_user
    rotated = run("token", "rotate", "mitmproxy-office", data_dir=data).stdout.strip()
    clients.refresh()
    assert clients.find(token) is None and clients.find(rotated) is not None

    with clients.store.session() as session, session.begin():  # a month later
        session.execute(update(ClientRow).where(ClientRow.name == "nightly-export")
                        .values(expires=datetime.now(UTC) - timedelta(days=1)))
    assert "\texpired " in run("list", data_dir=data).stdout.splitlines()[1]

    revoked = run("revoke", "mitmproxy-office", data_dir=data)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    clients.refresh()
    assert clients.find(rotated) is None
    assert "revoked" in run("list", data_dir=data).stdout.splitlines()[0]


def test_mistakes_get_a_clear_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("token", "create", "portal", data_dir=data).returncode == 0
    again = run("token", "create", "portal", data_dir=data)
    assert again.returncode == 2 and "exists already" in again.stderr and again.stdout == ""
    assert "1 to 3660 days" in run("token", "create", "x", "--days", "0", data_dir=data).stderr
    assert "1 to 100 printable characters" in run("token", "create", " ", data_dir=data).stderr
    missing = run("revoke", "nobody", data_dir=data)
    assert missing.returncode == 2 and "detour client list" in missing.stderr
    assert run("token", "rotate", "nobody", data_dir=data).returncode == 2
