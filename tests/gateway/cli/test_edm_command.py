"""Exact data match: registered records are found without a recognisable pattern; only hashes are stored."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

from detectors import edm
from tests.conftest import POLICIES

DETOUR = str(Path(sys.executable).parent / "detour")
CUSTOMERS = [(f"Kund{i} Efternamn{i}", f"kund{i}@example.se", f"070-{100 + i} {10 + i} {20 + i}") for i in range(10)]


def run(*args: str, data_dir: Path, policies: Path = POLICIES, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DETOUR_DATA_DIR": str(data_dir), "DETOUR_POLICIES_DIR": str(policies), **env}
    return subprocess.run([DETOUR, *args], capture_output=True, text=True, timeout=120, env=environment)


def with_edm_rule(tmp_path: Path) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    shutil.copy(POLICIES / "examples" / "edm-customers.yaml", policies)
    return policies


def call_list(tmp_path: Path) -> Path:
    """Names and phones only, formatted differently from the export: no e-mail, and phones with no context."""
    upload = tmp_path / "call-list.txt"
    upload.write_text("\n".join(f"{name.upper()}, {phone.replace(' ', '').replace('-', '')}"
                                for name, _, phone in CUSTOMERS[:6]))
    return upload


def test_registered_customer_records_are_blocked_without_any_pattern(tmp_path: Path) -> None:
    export = tmp_path / "customers.csv"
    export.write_text("name;email;phone\n" + "\n".join(";".join(c) for c in CUSTOMERS) + "\n")
    data = tmp_path / "data"
    added = run("edm", "add", "customers", str(export), "--columns", "name,email,phone", data_dir=data)
    assert added.returncode == 0, added.stderr
    assert "10 records" in added.stdout and "EDM:customers" in added.stdout
    with sqlite3.connect(data / "detour.db") as database:  # in the store, where every replica finds it
        key, packed = database.execute("select key, fingerprints from edm_sets where name = 'customers'").fetchone()
    stored = zlib.decompress(packed).decode()
    assert all(v not in stored for customer in CUSTOMERS for v in customer)  # hashes only, never values
    assert key is None  # keyed by DETOUR_HASH_KEY: the store alone can't be tested against guesses
    assert "EDM:customers: 10 records" in run("edm", "list", data_dir=data).stdout

    policies, upload = with_edm_rule(tmp_path), call_list(tmp_path)
    result = run("scan", "--format", "json", str(upload), data_dir=data, policies=policies)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"rule": "block-customer-records-external"' in result.stdout
    assert edm_count(result.stdout) == 6
    assert "Efternamn" not in result.stdout
    assert '"id": "crm-partner-portal"' in result.stdout

    assert run("edm", "remove", "customers", data_dir=data).returncode == 0
    assert run("scan", str(upload), data_dir=data, policies=policies).returncode == 2  # policy names a gone set


def test_unknown_column_is_a_clear_error(tmp_path: Path) -> None:
    export = tmp_path / "customers.csv"
    export.write_text("name,email\nA,a@example.com\n")
    result = run("edm", "add", "customers", str(export), "--columns", "name,phone", data_dir=tmp_path)
    assert result.returncode == 2 and "no column phone; the header has: name, email" in result.stderr


def test_a_set_is_keyed_by_the_installation_and_older_files_move_into_the_store(tmp_path: Path) -> None:
    """Replicas with the same DETOUR_HASH_KEY and database find a set registered once; another key finds nothing
    in the same hashes. A set kept as a file by an earlier version moves into the store and still matches."""
    export = tmp_path / "customers.csv"
    export.write_text("name;email;phone\n" + "\n".join(";".join(c) for c in CUSTOMERS) + "\n")
    policies, upload = with_edm_rule(tmp_path), call_list(tmp_path)
    shared = tmp_path / "shared"
    key = {"DETOUR_HASH_KEY": "k" * 40}
    assert run("edm", "add", "customers", str(export), "--columns", "name,email,phone", data_dir=shared,
               **key).returncode == 0
    found = run("scan", "--format", "json", str(upload), data_dir=shared, policies=policies, **key)
    assert edm_count(found.stdout) == 6, found.stderr
    other = run("scan", "--format", "json", str(upload), data_dir=shared, policies=policies,
                DETOUR_HASH_KEY="o" * 40)  # another key would make the set match nothing: said, never silent
    assert other.returncode == 2 and "registered under another DETOUR_HASH_KEY" in other.stderr

    older = tmp_path / "older"
    rows = [dict(zip(("name", "email", "phone"), customer, strict=True)) for customer in CUSTOMERS]
    legacy = edm.build("customers", rows, ["name", "email", "phone"])
    legacy.save(older / "edm" / "customers.json")
    moved = run("scan", "--format", "json", str(upload), data_dir=older, policies=policies)
    assert edm_count(moved.stdout) == 6, moved.stderr
    assert not (older / "edm" / "customers.json").exists() and (older / "edm" / "customers.json.moved").exists()
    assert "EDM:customers: 10 records" in run("edm", "list", data_dir=older).stdout
    with sqlite3.connect(older / "detour.db") as database:
        (kept,) = database.execute("select key from edm_sets where name = 'customers'").fetchone()
    assert kept and kept != legacy.key  # its own key, wrapped: the store alone can't test guesses

    # a file left behind (another replica's folder, a backup restored) never replaces the store's set
    fewer = edm.build("customers", rows[:3], ["name", "email", "phone"])
    fewer.save(older / "edm" / "customers.json")
    listed = run("edm", "list", data_dir=older)
    assert "EDM:customers: 10 records" in listed.stdout and "is not used" in listed.stderr


def test_an_export_the_csv_sniffer_cannot_read_is_read_by_its_header(tmp_path: Path) -> None:
    export = tmp_path / "customers.csv"  # the shared corpus's layout: the sniffer gives up on it
    rows = "".join(f'"Kund{i}, Efternamn",kund{i}@example.se,070-100 {i:02d} 20,Firma {i} AB\n' for i in range(8))
    export.write_text("Full name,Email,Phone,Company\n" + rows)
    added = run("edm", "add", "people", str(export), "--columns", "Full name,Email", data_dir=tmp_path / "data")
    assert added.returncode == 0, added.stderr
    assert "8 records" in added.stdout


def edm_count(output: str) -> int:
    """How many records of the customer set ``detour scan --format json`` found."""
    report = json.loads(output)
    return sum(f["count"] for f in report["findings"] if f["type"] == "EDM:customers")
