"""Rank the approved alternatives for the data found in a blocked upload.

A route is offered only when it is approved for *every* data class found (a
SharePoint site approved for contact lists is no place for card numbers), and
is available to the uploader's group. Rules may name the routes they offer, in
order of preference; otherwise every fitting route is a candidate. Candidates
are ordered by the rules' preference, then the catalogue's priority, then
specificity (a route approved for fewer data classes is made for this case).
"Ask IT to review" routes always come last: the way to a new tool stays open.
"""

from __future__ import annotations

from collections.abc import Sequence

from alternatives.catalogue import ANY_DATA, Alternative, AlternativeKind, Catalogue


def rank(
    catalogue: Catalogue,
    data_classes: Sequence[str],
    offered: Sequence[str] = (),
    group: str | None = None,
) -> list[Alternative]:
    found = set(data_classes)
    fitting = [a for a in catalogue.alternatives if a.approves(found) and a.available_to(group)]
    reviews = [a for a in fitting if a.kind is AlternativeKind.REQUEST_REVIEW]
    routes = [a for a in fitting if a.kind is not AlternativeKind.REQUEST_REVIEW]
    if offered:
        preference = {alternative_id: position for position, alternative_id in enumerate(offered)}
        routes = [a for a in routes if a.id in preference]
    else:
        preference = {}
    routes.sort(key=lambda a: (preference.get(a.id, 0), a.priority, _breadth(a), a.id))
    reviews.sort(key=lambda a: (a.priority, a.id))
    return routes + reviews


def _breadth(alternative: Alternative) -> int:
    return 1_000 if ANY_DATA in alternative.approved_for else len(alternative.approved_for)
