"""``detour admin token``: IT makes, lists and revokes admin API tokens; the store keeps hashes only."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from gateway.settings import Settings
from gateway.store.admin import AdminTokens, Role
from gateway.store.store import DecisionStore, sqlite_url

DETOUR = str(Path(sys.executable).parent / "detour")


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DETOUR, "admin", "token", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DETOUR_DATA_DIR": str(data_dir)})


def test_it_makes_lists_and_revokes_admin_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "No admin tokens" in run("list", data_dir=data).stderr
    made = run("create", "--role", "reviewer", "--name", "rita", data_dir=data)
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[-1]  # the last line: a script can take it
    assert token.startswith("dta_") and "shown only now" in made.stderr
    database = (data / "detour.db").read_bytes()
    assert token.encode() not in database and hashlib.sha256(token.encode()).hexdigest().encode() in database
    assert run("create", "--role", "viewer", "--name", "siem", "--days", "7", data_dir=data).returncode == 0
    assert run("create", "--role", "viewer", "--name", "rita", data_dir=data).returncode == 2  # name in use
    assert run("create", "--role", "viewer", "--name", "x", "--days", "999", data_dir=data).returncode == 2
    assert run("create", "--role", "root", "--name", "y", data_dir=data).returncode == 2

    listed = run("list", data_dir=data).stdout.splitlines()
    assert listed[0].startswith("rita\treviewer\tcreated") and "never used" in listed[0]
    assert listed[1].startswith("siem\tviewer")

    tokens = AdminTokens(DecisionStore(sqlite_url(Settings(data_dir=data).data_dir)))
    found = tokens.find(token)
    assert found is not None and found.role is Role.REVIEWER and found.name == "rita"
    revoked = run("revoke", "rita", data_dir=data)
    assert revoked.returncode == 0 and "at once" in revoked.stdout
    assert tokens.find(token) is None
    assert run("revoke", "rita", data_dir=data).returncode == 2
