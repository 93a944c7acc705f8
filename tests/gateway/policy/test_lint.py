"""``detour policy check``: every problem in one pass, and warnings for what is valid but not meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.registry import Registry, default_recognizers
from gateway.errors import PolicyError
from gateway.policy.loader import Policy, load_policy
from gateway.runtime import SPECIAL_ENTITIES
from tests.conftest import POLICIES
from tests.gateway.policy.conftest import edit, line_of

DETOUR = str(Path(sys.executable).parent / "detour")
KNOWN = Registry(default_recognizers()).entities | SPECIAL_ENTITIES

BANK_PORTAL = """
alternatives:
  - id: bank-portal
    kind: other
    url: https://bank.example.com/
    approved_for: [bank_account]
    texts: {en: {title: The bank portal, instructions: [Upload it there.]},
            sv: {title: Bankportalen, instructions: [Ladda upp den där.]},
            nl: {title: Het bankportaal, instructions: [Upload het daar.]}}
"""
WARN_CONTACTS = """
rules:
  - id: warn-contact-lists-external
    when: {sanctioned: false, data_classes: [contact_data]}
    action: warn
    reason: {en: "The file contains {found}.", sv: "Filen innehåller {found}.", nl: "Het bestand bevat {found}."}
"""




def _warnings(policy: Policy) -> list[str]:
    return [str(w) for w in policy.warnings]


def test_schema_and_reference_problems_come_in_one_pass(policy_dir: Path) -> None:
    default = policy_dir / "default.yaml"
    edit(default, "    action: block\n    reason:\n      en: \"The file contains {found}; anyone",
          "    action: deny\n    reason:\n      en: \"The file contains {found}; anyone")  # schema
    edit(default, "data_classes: [payment_card]}", "data_classes: [payment_cards]}")  # a reference
    edit(policy_dir / "alternatives.yaml", "approved_for: [contact_data", "approved_for: [contact_date")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir, known_detectors=KNOWN)
    message = str(caught.value)
    assert f"default.yaml:{line_of(default, 'action: deny')}: rules[2].action:" in message
    assert "rules[0].when.data_classes[0]: unknown data class 'payment_cards'" in message
    assert "alternatives.yaml:" in message and "unknown data class 'contact_date'" in message
    assert len(caught.value.problems) == 3
    files = [p.file for p in caught.value.problems]
    assert files == sorted(files)  # in file order, as an editor goes through them


def test_the_shipped_policy_has_no_warnings() -> None:
    assert _warnings(load_policy(POLICIES, known_detectors=KNOWN)) == []


def test_a_warn_rule_shadowed_by_a_block_rule_names_both(policy_dir: Path) -> None:
    (policy_dir / "soft.yaml").write_text(WARN_CONTACTS)
    warnings = _warnings(load_policy(policy_dir))
    block_line = line_of(policy_dir / "default.yaml", "- id: block-contact-lists-external")
    shadowed = [w for w in warnings if "can never apply" in w]
    assert len(shadowed) == 1, warnings
    assert shadowed[0].startswith(f"{policy_dir / 'soft.yaml'}:5: rules[7].action: rule "
                                  "'warn-contact-lists-external' (warn) can never apply: rule "
                                  f"'block-contact-lists-external' (block, {policy_dir / 'default.yaml'}:{block_line})")


def test_a_narrower_block_rule_or_a_monitor_rule_shadows_nothing(policy_dir: Path) -> None:
    # the block rule spares the partners' site: the warn rule applies there
    edit(policy_dir / "default.yaml", "    when: {sanctioned: false, data_classes: [contact_data]}\n",
          "    when: {sanctioned: false, data_classes: [contact_data]}\n"
          "    unless: {destinations: [external_collaboration]}\n")
    (policy_dir / "soft.yaml").write_text(WARN_CONTACTS)
    assert not [w for w in _warnings(load_policy(policy_dir)) if "can never apply" in w]
    # a monitor rule is recorded whatever else applies: never shadowed
    (policy_dir / "soft.yaml").write_text(WARN_CONTACTS + "    mode: monitor\n")
    edit(policy_dir / "default.yaml", "    unless: {destinations: [external_collaboration]}\n", "")
    assert not [w for w in _warnings(load_policy(policy_dir)) if "can never apply" in w]


def test_a_rule_no_destination_fits(policy_dir: Path) -> None:
    (policy_dir / "odd.yaml").write_text(WARN_CONTACTS.replace(
        "{sanctioned: false, data_classes", "{sanctioned: true, destinations: [personal_file_sharing], data_classes"))
    warnings = _warnings(load_policy(policy_dir))
    assert any("rules[7].when: rule 'warn-contact-lists-external' can never apply: no destination category" in w
               for w in warnings), warnings


def test_missing_translations_in_the_languages_the_policy_serves(policy_dir: Path) -> None:
    (policy_dir / "soft.yaml").write_text(WARN_CONTACTS.replace(', sv: "Filen innehåller {found}."', "")
                                          .replace("sanctioned: false", "destinations: [generative_ai]"))
    warnings = _warnings(load_policy(policy_dir))
    assert [w for w in warnings if "text" in w] == [
        f"{policy_dir / 'soft.yaml'}:6: rules[7].reason: no Swedish (sv) text: staff reading it get English "
        "(languages served: policy.languages)"]
    edit(policy_dir / "default.yaml", "  default_language: en\n", "  default_language: en\n  languages: [en, nl]\n")
    assert not [w for w in _warnings(load_policy(policy_dir)) if "text" in w]


def test_alternatives_no_decision_can_offer(policy_dir: Path) -> None:
    (policy_dir / "more.yaml").write_text(BANK_PORTAL + """  - id: key-safe
    kind: secrets_vault
    url: https://keys.example.com/
    approved_for: [credentials]
    texts: {en: {title: The key safe, instructions: [Store it there.]},
            sv: {title: Nyckelskåpet, instructions: [Spara den där.]},
            nl: {title: De sleutelkluis, instructions: [Bewaar het daar.]}}
""")
    warnings = _warnings(load_policy(policy_dir))
    assert any("alternatives[6].approved_for: alternative 'bank-portal' is approved only for data no rule stops "
               "(bank_account): it is never offered" in w for w in warnings), warnings
    # the credentials rule lists its routes (secrets-vault, request-review): key-safe is never among them
    assert any("alternatives[7].id: alternative 'key-safe' is never offered" in w for w in warnings), warnings
    edit(policy_dir / "default.yaml", "alternatives: [secrets-vault, request-review]",
          "alternatives: [secrets-vault, key-safe, request-review]")
    assert not [w for w in _warnings(load_policy(policy_dir)) if "key-safe" in w]


def test_policy_check_strict_fails_on_warnings(policy_dir: Path) -> None:
    (policy_dir / "soft.yaml").write_text(WARN_CONTACTS)
    relaxed = subprocess.run([DETOUR, "policy", "check", "--policies", str(policy_dir)], capture_output=True,
                             text=True, timeout=120)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "1 warning" in relaxed.stdout
    assert "warning:" in relaxed.stdout and "'block-contact-lists-external'" in relaxed.stdout
    strict = subprocess.run([DETOUR, "policy", "check", "--strict", "--policies", str(policy_dir)],
                            capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1 and "--strict" in strict.stderr


def test_an_alias_bomb_is_refused_before_it_is_expanded(policy_dir: Path) -> None:
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)]  # 10^8 elements expanded
    text = "x-anchors:\n" + "".join(f"  {layer}\n" for layer in layers)
    (policy_dir / "bomb.yaml").write_text(text)
    with pytest.raises(PolicyError, match=r"bomb.yaml:1: too large: more than 200,000 YAML elements"):
        load_policy(policy_dir, known_detectors=KNOWN)
    (policy_dir / "bomb.yaml").write_text("x-deep: " + "[" * 1000 + "]" * 1000 + "\n")  # no recursion error
    with pytest.raises(PolicyError, match=r"bomb.yaml:1: nested deeper than 100 levels"):
        load_policy(policy_dir, known_detectors=KNOWN)
    (policy_dir / "bomb.yaml").write_text("x-self: &x [1, *x]\n")
    with pytest.raises(PolicyError, match=r"an alias that contains itself"):
        load_policy(policy_dir, known_detectors=KNOWN)


def test_odd_shapes_are_problems_not_crashes(policy_dir: Path) -> None:
    default = policy_dir / "destinations.yaml"
    edit(default, "unknown_destination:\n  id: unknown_external\n", "unknown_destination:\n  id: [a, b]\n")
    with pytest.raises(PolicyError, match="unknown_destination.id"):
        load_policy(policy_dir, known_detectors=KNOWN)
    garbage = "rules: [" + ", ".join(["1"] * 900) + "]\n"  # 900 rules, each wrong
    (policy_dir / "default.yaml").write_text((policy_dir / "default.yaml").read_text().split("rules:")[0] + garbage)
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_dir, known_detectors=KNOWN)
    assert len(caught.value.problems) == PolicyError.SHOWN and "… and " in str(caught.value)
    assert len(str(caught.value)) < 50_000


def test_no_never_offered_warning_when_the_default_stops(policy_dir: Path) -> None:
    (policy_dir / "more.yaml").write_text(BANK_PORTAL)
    assert any("bank-portal" in w for w in _warnings(load_policy(policy_dir)))
    edit(policy_dir / "default.yaml", "  default_action: allow", "  default_action: warn")
    assert not any("bank-portal" in w for w in _warnings(load_policy(policy_dir)))
