"""Classify an upload's destination URL into a category IT defined (sanctioned or not).

The most specific match wins, so ``corp-example.sharepoint.com`` (the company's
tenant, sanctioned) beats ``sharepoint.com`` (anyone's tenant, unsanctioned).
A plain domain matches itself and its subdomains; ``*.domain`` only subdomains;
IP addresses and CIDR ranges match IP literals. Anything else is "unknown".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from gateway.policy.schema import DestinationCategory, UnknownDestination
from gateway.records import Destination


def host_of(url: str) -> str:
    """The lower-case host of ``url``; a bare host name (no scheme) is accepted too."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "//" + candidate
    try:
        host = urlsplit(candidate).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


MAX_REMEMBERED = 10_000  # hosts whose category is remembered (then forgotten all at once)


class DestinationMatcher:
    def __init__(self, categories: Sequence[DestinationCategory], unknown: UnknownDestination) -> None:
        self._unknown = unknown
        self._domains: dict[str, tuple[DestinationCategory, bool]] = {}
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, DestinationCategory]] = []
        for category in categories:
            for pattern in category.hosts:
                try:
                    self._networks.append((ipaddress.ip_network(pattern, strict=False), category))
                    continue
                except ValueError:
                    pass
                if pattern.startswith("*."):
                    self._domains.setdefault(pattern[2:], (category, False))
                else:
                    self._domains.setdefault(pattern, (category, True))
        self._networks.sort(key=lambda item: -item[0].prefixlen)  # most specific first
        self._seen: dict[str, DestinationCategory | None] = {}  # host → its category: hosts repeat all day

    def classify(self, url: str) -> Destination:
        host = host_of(url)
        try:
            category = self._seen[host]
        except KeyError:
            category = self._match(host)
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            self._seen[host] = category
        if category is None:
            return Destination(url, host, self._unknown.id, self._unknown.sanctioned)
        return Destination(url, host, category.id, category.sanctioned)

    def _match(self, host: str) -> DestinationCategory | None:
        if not host:
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            return next((c for net, c in self._networks if address.version == net.version and address in net), None)
        labels = host.split(".")
        for i in range(len(labels)):  # longest suffix first: most specific wins
            suffix = ".".join(labels[i:])
            entry = self._domains.get(suffix)
            if entry is not None and (entry[1] or i > 0):
                return entry[0]
        return None
