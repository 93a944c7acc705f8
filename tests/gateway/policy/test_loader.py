"""Loading policy files: the bundled policy is valid; every error names file, line and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from detectors.registry import Registry, default_recognizers
from gateway.errors import PolicyError
from gateway.policy.loader import load_policy
from gateway.policy.schema import json_schema
from gateway.runtime import SPECIAL_ENTITIES, Runtime
from gateway.settings import Settings
from tests.conftest import POLICIES
from tests.gateway.policy.conftest import edit, line_of


def _problem(policy_dir: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir, known_detectors=Registry(default_recognizers()).entities | SPECIAL_ENTITIES)
    return str(caught.value)


def test_bundled_policy_loads(policy_dir: Path) -> None:
    policy = load_policy(policy_dir)
    assert {r.id for r in policy.document.rules} >= {"block-contact-lists-external", "block-payment-cards-external"}
    assert policy.files == ("alternatives.yaml", "default.yaml", "destinations.yaml")
    assert len(policy.digest) == 16


def test_digest_changes_when_a_policy_file_changes(policy_dir: Path) -> None:
    before = load_policy(policy_dir).digest
    edit(policy_dir / "default.yaml", 'version: "2026.11"', 'version: "2026.12"')
    assert load_policy(policy_dir).digest != before


def test_invalid_action_names_file_line_and_field(policy_dir: Path) -> None:
    path = policy_dir / "default.yaml"
    edit(path, "    action: block\n    reason:\n      en: \"The file contains {found}; anyone",
          "    action: deny\n    reason:\n      en: \"The file contains {found}; anyone")
    message = _problem(policy_dir)
    line = line_of(path, "action: deny")
    assert f"default.yaml:{line}: rules[2].action:" in message
    assert "'allow', 'warn' or 'block'" in message


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_unknown_field_is_reported_not_ignored(policy_dir: Path) -> None:
    path = policy_dir / "default.yaml"
    edit(path, "    min_people: 5", "    min_peple: 5")  # the first data class that counts people
    message = _problem(policy_dir)
    index = next(i for i, c in enumerate(load_yaml(path)["data_classes"]) if "min_peple" in c)
    assert f"default.yaml:{line_of(path, 'min_peple')}: data_classes[{index}].min_peple: unknown field" in message


def test_rule_referring_to_an_unknown_data_class(policy_dir: Path) -> None:
    path = policy_dir / "default.yaml"
    edit(path, "data_classes: [payment_card]}", "data_classes: [payment_cards]}")
    message = _problem(policy_dir)
    assert f"default.yaml:{line_of(path, '[payment_cards]')}: rules[0].when.data_classes[0]: " \
           "unknown data class 'payment_cards'" in message


def test_unknown_alternative_and_unknown_detector(policy_dir: Path) -> None:
    edit(policy_dir / "default.yaml", "alternatives: [secrets-vault, request-review]",
          "alternatives: [password-vault, request-review]")
    edit(policy_dir / "default.yaml", "detectors: [CREDIT_CARD]", "detectors: [CREDIT_CARDS]")
    message = _problem(policy_dir)
    assert "rules[2].alternatives[0]: unknown alternative 'password-vault'" in message
    assert "data_classes[0].detectors[0]: unknown detector 'CREDIT_CARDS'" in message


def test_yaml_syntax_error_names_the_line(policy_dir: Path) -> None:
    path = policy_dir / "destinations.yaml"
    edit(path, "      - mega.nz", "      - mega.nz: [")
    message = _problem(policy_dir)
    assert "destinations.yaml:" in message and "not valid YAML" in message


def test_duplicate_ids_across_files(policy_dir: Path) -> None:
    (policy_dir / "extra.yaml").write_text(
        "rules:\n  - id: block-payment-cards-external\n    when: {data_classes: [payment_card]}\n"
        "    action: warn\n    reason: {en: \"x\"}\n")
    message = _problem(policy_dir)
    index = len(load_policy(POLICIES).document.rules)  # the new rule comes after the shipped ones
    line = line_of(policy_dir / "default.yaml", "- id: block-payment-cards-external")
    assert f"extra.yaml:2: rules[{index}].id: id 'block-payment-cards-external' is already used by rules[0] " \
           f"({policy_dir / 'default.yaml'}:{line})" in message  # both places named


def test_a_map_section_may_live_in_one_file_only(policy_dir: Path) -> None:
    (policy_dir / "extra.yaml").write_text("policy:\n  name: second\n")
    assert "extra.yaml:1: policy: already defined in" in _problem(policy_dir)


def test_bad_host_pattern_and_unknown_placeholder(policy_dir: Path) -> None:
    edit(policy_dir / "destinations.yaml", "      - mega.nz", "      - https://mega.nz/*")
    edit(policy_dir / "alternatives.yaml", "?detour={decision_id}", "?detour={decision}")
    message = _problem(policy_dir)
    assert "destinations.yaml" in message and "is not a host pattern" in message
    assert "alternatives.yaml" in message and "unknown placeholder {decision}" in message


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy directory not found"):
        load_policy(tmp_path / "nope")
    with pytest.raises(PolicyError, match=r"no \*.yaml policy files"):
        load_policy(tmp_path)


def test_catalogue_without_a_review_route_is_refused(policy_dir: Path) -> None:
    edit(policy_dir / "alternatives.yaml", "kind: request_review", "kind: other")
    assert "request_review" in _problem(policy_dir)


def test_policy_limits_override_the_settings(policy_dir: Path, settings: Settings) -> None:
    edit(policy_dir / "default.yaml", "  # max_archive_depth: 5 ", "  max_archive_depth: 2 ")
    runtime = Runtime.build(settings.model_copy(update={"policies_dir": policy_dir}))
    runtime.close()
    assert runtime.pipeline.limits.max_archive_depth == 2
    assert runtime.pipeline.limits.max_members == settings.limits().max_members


def test_invalid_limit_is_refused_with_its_line(policy_dir: Path) -> None:
    edit(policy_dir / "default.yaml", "  # max_ratio: 200 ", "  max_ratio: many ")
    assert f"default.yaml:{line_of(policy_dir / 'default.yaml', 'max_ratio: many')}: limits.max_ratio:" in \
        _problem(policy_dir)


def test_example_policy_loads_next_to_the_default(policy_dir: Path) -> None:
    shutil.copy(POLICIES / "examples" / "warn-bank-accounts.yaml", policy_dir)
    policy = load_policy(policy_dir)
    assert policy.document.category("payroll_provider") is not None


def test_published_json_schema_matches_the_models() -> None:
    published = json.loads((POLICIES / "policy.schema.json").read_text())
    assert published == json_schema(), "run: detour policy schema > policies/policy.schema.json"
