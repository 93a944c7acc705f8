"""The helpdesk message: sorry, concrete, with the reference and a contact, in three languages."""

from __future__ import annotations

import pytest

from alternatives.catalogue import Language, RouteContext, render_offer
from alternatives.helpdesk import compose, join_phrases
from gateway.policy.loader import Policy


@pytest.mark.parametrize(
    ("language", "sorry", "route_word"),
    [("en", "Sorry", "right away"), ("sv", "Tyvärr", "direkt"), ("nl", "Sorry", "meteen")],
)
def test_block_message_is_sorry_concrete_and_carries_the_reference(
    policy: Policy, language: Language, sorry: str, route_word: str
) -> None:
    sharepoint = policy.catalogue.get("partner-sharepoint")
    assert sharepoint is not None
    offer = render_offer(sharepoint, 1, language, RouteContext(decision_id="DTR-AAAA-BBBB-CCCC-DDDD"))
    message = compose(policy.catalogue.helpdesk, language, blocked=True, file_name="customers.csv",
                      destination="wetransfer.com", found=["60"], offers=[offer],
                      reference="DTR-AAAA-BBBB-CCCC-DDDD")
    assert message.message.startswith(sorry)
    assert "customers.csv" in message.message and "wetransfer.com" in message.message
    assert route_word in message.message and offer.title in message.message and offer.url in message.message
    assert "DTR-AAAA-BBBB-CCCC-DDDD" in message.message and message.reference == "DTR-AAAA-BBBB-CCCC-DDDD"
    assert message.contact["email"] == "helpdesk@corp-example.com"
    assert message.mailto is not None and message.mailto.startswith("mailto:helpdesk@corp-example.com?subject=")


def test_url_template_values_are_url_encoded(policy: Policy) -> None:
    review = policy.catalogue.get("request-review")
    assert review is not None
    offer = render_offer(review, 1, "en", RouteContext(decision_id="DTR-1", destination_host="a.example&x=<y>"))
    assert offer.url == "https://helpdesk.corp-example.com/review?destination=a.example%26x%3D%3Cy%3E&ref=DTR-1"


def test_join_phrases_per_language() -> None:
    assert join_phrases(["a"], "en") == "a"
    assert join_phrases(["a", "b", "c"], "en") == "a, b and c"
    assert join_phrases(["a", "b"], "sv") == "a och b"
    assert join_phrases(["a", "b"], "nl") == "a en b"
