"""Ranking alternatives: approved for all data found, rule preference, priority, review last."""

from __future__ import annotations

from alternatives.catalogue import Alternative, Catalogue, Helpdesk
from alternatives.rank import rank
from gateway.policy.loader import Policy


def _alternative(id: str, kind: str, approved_for: list[str], priority: int = 100,
                 groups: list[str] | None = None) -> Alternative:
    return Alternative.model_validate({
        "id": id, "kind": kind, "url": f"https://{id}.example/?ref={{decision_id}}", "approved_for": approved_for,
        "priority": priority, "groups": groups or [],
        "texts": {"en": {"title": id, "instructions": ["do it"]}},
    })


def _catalogue(policy: Policy, *alternatives: Alternative) -> Catalogue:
    helpdesk: Helpdesk = policy.catalogue.helpdesk
    return Catalogue(alternatives=list(alternatives), helpdesk=helpdesk)


def test_ranks_by_priority_then_specificity_and_review_comes_last(policy: Policy) -> None:
    catalogue = _catalogue(
        policy,
        _alternative("review", "request_review", ["*"], priority=0),
        _alternative("broad", "secure_transfer", ["contact_data", "national_id", "unscannable"], priority=20),
        _alternative("narrow", "vpn_share", ["contact_data"], priority=20),
        _alternative("first", "sharepoint", ["contact_data"], priority=10),
    )
    assert [a.id for a in rank(catalogue, ["contact_data"])] == ["first", "narrow", "broad", "review"]


def test_offers_only_routes_approved_for_every_data_class_found(policy: Policy) -> None:
    catalogue = _catalogue(
        policy,
        _alternative("review", "request_review", ["*"]),
        _alternative("sharepoint", "sharepoint", ["contact_data"]),
        _alternative("transfer", "secure_transfer", ["contact_data", "national_id"]),
    )
    assert [a.id for a in rank(catalogue, ["contact_data", "national_id"])] == ["transfer", "review"]
    assert [a.id for a in rank(catalogue, ["payment_card"])] == ["review"]


def test_rule_preference_orders_and_limits_the_routes(policy: Policy) -> None:
    catalogue = _catalogue(
        policy,
        _alternative("review", "request_review", ["*"]),
        _alternative("a", "sharepoint", ["contact_data"], priority=1),
        _alternative("b", "vpn_share", ["contact_data"], priority=2),
        _alternative("c", "secure_transfer", ["contact_data"], priority=3),
    )
    assert [a.id for a in rank(catalogue, ["contact_data"], offered=["c", "a"])] == ["c", "a", "review"]


def test_group_restricted_routes_are_offered_to_that_group_only(policy: Policy) -> None:
    catalogue = _catalogue(
        policy,
        _alternative("review", "request_review", ["*"]),
        _alternative("marketing-site", "sharepoint", ["contact_data"], groups=["marketing"]),
    )
    assert [a.id for a in rank(catalogue, ["contact_data"], group="marketing")] == ["marketing-site", "review"]
    assert [a.id for a in rank(catalogue, ["contact_data"], group="sales")] == ["review"]
    assert [a.id for a in rank(catalogue, ["contact_data"])] == ["review"]


def test_shipped_catalogue_offers_at_least_two_routes_for_every_blocking_data_class(policy: Policy) -> None:
    blocking = {c for rule in policy.document.rules if rule.action == "block" for c in rule.when.data_classes}
    for data_class in blocking:
        routes = rank(policy.catalogue, [data_class])
        assert len(routes) >= 2, data_class
        assert routes[-1].kind == "request_review"
