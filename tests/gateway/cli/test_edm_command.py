"""Exact data match: registered records are found without a recognisable pattern; only hashes are stored."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import POLICIES

DETOUR = str(Path(sys.executable).parent / "detour")
CUSTOMERS = [(f"Kund{i} Efternamn{i}", f"kund{i}@example.se", f"070-{100 + i} {10 + i} {20 + i}") for i in range(10)]


def run(*args: str, data_dir: Path, policies: Path = POLICIES) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DETOUR_DATA_DIR": str(data_dir), "DETOUR_POLICIES_DIR": str(policies)}
    return subprocess.run([DETOUR, *args], capture_output=True, text=True, timeout=120, env=env)


def test_registered_customer_records_are_blocked_without_any_pattern(tmp_path: Path) -> None:
    export = tmp_path / "customers.csv"
    export.write_text("name;email;phone\n" + "\n".join(";".join(c) for c in CUSTOMERS) + "\n")
    data = tmp_path / "data"
    added = run("edm", "add", "customers", str(export), "--columns", "name,email,phone", data_dir=data)
    assert added.returncode == 0, added.stderr
    assert "10 records" in added.stdout and "EDM:customers" in added.stdout
    stored = (data / "edm" / "customers.json").read_text()
    assert all(v not in stored for customer in CUSTOMERS for v in customer)  # hashes only, never values
    assert "EDM:customers: 10 records" in run("edm", "list", data_dir=data).stdout

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    shutil.copy(POLICIES / "examples" / "edm-customers.yaml", policies)
    # names and phones only, formatted differently from the export: no e-mail, and phones with no context
    upload = tmp_path / "call-list.txt"
    upload.write_text("\n".join(f"{name.upper()}, {phone.replace(' ', '').replace('-', '')}"
                                for name, _, phone in CUSTOMERS[:6]))
    result = run("scan", "--format", "json", str(upload), data_dir=data, policies=policies)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"rule": "block-customer-records-external"' in result.stdout
    assert '"type": "EDM:customers", "count": 6' in result.stdout
    assert "Efternamn" not in result.stdout
    assert '"id": "crm-partner-portal"' in result.stdout

    assert run("edm", "remove", "customers", data_dir=data).returncode == 0
    assert run("scan", str(upload), data_dir=data, policies=policies).returncode == 2  # policy names a gone set


def test_unknown_column_is_a_clear_error(tmp_path: Path) -> None:
    export = tmp_path / "customers.csv"
    export.write_text("name,email\nA,a@example.com\n")
    result = run("edm", "add", "customers", str(export), "--columns", "name,phone", data_dir=tmp_path)
    assert result.returncode == 2 and "no column phone; the header has: name, email" in result.stderr
