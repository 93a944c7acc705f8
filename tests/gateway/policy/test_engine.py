"""decide(): the shipped policy's behaviour, as fast pure unit tests."""

from __future__ import annotations

from datetime import UTC, datetime

from detectors import entities
from detectors.findings import Finding
from gateway.policy.engine import decide
from gateway.policy.loader import Policy
from gateway.records import Action, Exemption
from tests.factories import make_contacts, make_finding, make_scan, make_upload


def test_blocks_contacts_of_five_people_to_unsanctioned_destination(policy: Policy) -> None:
    decision = decide(make_scan(make_contacts(5)), make_upload("https://wetransfer.com/x"), policy, "D1")
    assert decision.action is Action.BLOCK
    assert [r.rule for r in decision.reasons] == ["block-contact-lists-external"]
    hit = decision.hit("contact_data")
    assert hit is not None and hit.people == 5 and hit.triggered


def test_allows_contacts_of_four_people(policy: Policy) -> None:
    decision = decide(make_scan(make_contacts(4)), make_upload("https://wetransfer.com/x"), policy, "D1")
    assert decision.action is Action.ALLOW
    assert decision.alternatives == ()
    hit = decision.hit("contact_data")
    assert hit is not None and hit.people == 4 and not hit.triggered


def test_allows_anything_to_a_sanctioned_destination(policy: Policy) -> None:
    findings = make_contacts(50) + [make_finding(entities.CREDIT_CARD, "4111111111111111")]
    decision = decide(make_scan(findings), make_upload("https://corp-example.sharepoint.com/sites/m"), policy, "D1")
    assert decision.action is Action.ALLOW
    assert decision.destination.sanctioned


def test_one_card_number_is_enough_to_block(policy: Policy) -> None:
    decision = decide(make_scan([make_finding(entities.CREDIT_CARD, "4111111111111111")]),
                      make_upload("dropbox.com"), policy, "D1")
    assert decision.action is Action.BLOCK
    assert decision.alternatives[0] == "payment-portal"
    assert decision.alternatives[-1] == "request-review"


def test_unknown_host_is_unsanctioned(policy: Policy) -> None:
    decision = decide(make_scan([make_finding(entities.US_SSN, "123-45-6780")]),
                      make_upload("https://never-heard-of.example/upload"), policy, "D1")
    assert decision.action is Action.BLOCK
    assert decision.destination.category == "unknown_external"


def test_unscannable_content_is_blocked_to_unsanctioned_destination(policy: Policy) -> None:
    finding = Finding.unscannable("secret.zip", "the archive is encrypted, so it can't be checked")
    decision = decide(make_scan([finding]), make_upload(), policy, "D1")
    assert decision.action is Action.BLOCK
    assert [r.rule for r in decision.reasons] == ["block-unscannable-external"]
    assert "secure-transfer" in decision.alternatives


def test_several_data_classes_offer_only_routes_approved_for_all(policy: Policy) -> None:
    findings = make_contacts(10) + [make_finding(entities.SE_PERSONNUMMER, "8112189876")]
    decision = decide(make_scan(findings), make_upload(), policy, "D1")
    assert decision.action is Action.BLOCK
    assert {r.rule for r in decision.reasons} == {"block-contact-lists-external", "block-national-ids-external"}
    assert "partner-sharepoint" not in decision.alternatives  # approved for contact lists only
    assert decision.alternatives[:2] == ("secure-transfer", "vpn-share")
    assert decision.alternatives[-1] == "request-review"


def test_weak_findings_below_the_data_class_score_do_not_count(policy: Policy) -> None:
    weak = make_finding(entities.CREDIT_CARD, "4111111111111111", score=0.3)
    decision = decide(make_scan([weak]), make_upload(), policy, "D1")
    assert decision.action is Action.ALLOW


def test_nothing_found_is_allowed_with_no_reasons(policy: Policy) -> None:
    decision = decide(make_scan([]), make_upload(), policy, "D1")
    assert decision.action is Action.ALLOW
    assert decision.reasons == () and decision.data_classes == ()


def test_decide_is_pure_same_input_same_decision(policy: Policy) -> None:
    scan, upload = make_scan(make_contacts(7)), make_upload()
    assert decide(scan, upload, policy, "D1") == decide(scan, upload, policy, "D1")


def _exemption(**scope: object) -> Exemption:
    fields: dict[str, object] = {"id": 7, "destination_host": "wetransfer.com", "user": None, "group": "marketing",
                                 "data_classes": ("contact_data",), "action": Action.ALLOW,
                                 "expires": datetime(2030, 1, 1, tzinfo=UTC), **scope}
    return Exemption(**fields)  # type: ignore[arg-type]


def test_an_exception_lets_its_group_send_what_it_covers_to_its_host(policy: Policy) -> None:
    contacts, exemptions = make_scan(make_contacts(20)), [_exemption()]
    marketing = decide(contacts, make_upload("https://wetransfer.com/x", group="marketing"), policy, "D1", exemptions)
    assert marketing.action is Action.ALLOW and marketing.exemption == exemptions[0]
    assert [(r.rule, r.data_classes) for r in marketing.reasons] == [("exception-7", ("contact_data",))]
    sub_host = make_upload("https://eu.wetransfer.com/x", group="marketing")
    assert decide(contacts, sub_host, policy, "D1", exemptions).action is Action.BLOCK  # that host only
    assert decide(contacts, sub_host, policy, "D1", [_exemption(subdomains=True)]).action is Action.ALLOW
    for other in (make_upload("https://wetransfer.com/x", group="sales"), make_upload("https://wetransfer.com/x"),
                  make_upload("https://dropbox.com/x", group="marketing"),
                  make_upload("https://notwetransfer.com/x", group="marketing")):
        decision = decide(contacts, other, policy, "D1", exemptions)
        assert decision.action is Action.BLOCK and decision.exemption is None


def test_what_an_exception_does_not_cover_still_blocks(policy: Policy) -> None:
    findings = make_contacts(20) + [make_finding(entities.CREDIT_CARD, "4111111111111111", record=30)]
    decision = decide(make_scan(findings), make_upload("https://wetransfer.com/x", group="marketing"), policy, "D1",
                      [_exemption()])
    assert decision.action is Action.BLOCK and [r.rule for r in decision.reasons] == ["block-payment-cards-external"]
    assert decision.exemption is None
    anything = decide(make_scan(findings), make_upload("https://wetransfer.com/x", group="marketing"), policy, "D1",
                      [_exemption(data_classes=())])  # any data class
    assert anything.action is Action.ALLOW and anything.exemption is not None


def test_an_exception_for_a_user_or_everyone_and_one_that_warns(policy: Policy) -> None:
    contacts = make_scan(make_contacts(20))
    upload = make_upload("https://wetransfer.com/x", user="anna", group="sales")
    assert decide(contacts, upload, policy, "D1", [_exemption(user="anna", group=None)]).action is Action.ALLOW
    assert decide(contacts, upload, policy, "D1", [_exemption(user="bo", group=None)]).action is Action.BLOCK
    assert decide(contacts, upload, policy, "D1", [_exemption(group=None)]).action is Action.ALLOW  # everyone
    warned = decide(contacts, upload, policy, "D1", [_exemption(group=None, action=Action.WARN)])
    assert warned.action is Action.WARN and warned.reasons[0].rule == "exception-7"
