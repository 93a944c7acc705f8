"""Destination classification: most specific match wins; unknown hosts are unsanctioned."""

from __future__ import annotations

import pytest

from gateway.policy.destinations import host_of
from gateway.policy.loader import Policy


@pytest.mark.parametrize(
    ("url", "category", "sanctioned"),
    [
        ("https://corp-example.sharepoint.com/sites/partners", "company", True),
        ("https://othercorp.sharepoint.com/sites/x", "external_collaboration", False),
        ("https://wetransfer.com/upload", "personal_file_sharing", False),
        ("https://eu.wetransfer.com/upload", "personal_file_sharing", False),
        ("WETRANSFER.COM.", "personal_file_sharing", False),
        ("dropbox.com", "personal_file_sharing", False),
        ("https://user:pw@www.dropbox.com:443/home", "personal_file_sharing", False),
        ("https://notwetransfer.com/", "unknown_external", False),
        ("https://wetransfer.com.evil.example/", "unknown_external", False),
        ("http://10.1.2.3/upload", "internal", True),
        ("http://[::1]:8080/", "internal", True),
        ("http://8.8.8.8/", "unknown_external", False),
        ("", "unknown_external", False),
        ("not a url at all", "unknown_external", False),
    ],
)
def test_classifies_destinations(policy: Policy, url: str, category: str, sanctioned: bool) -> None:
    destination = policy.destinations.classify(url)
    assert (destination.category, destination.sanctioned) == (category, sanctioned)


def test_host_of_accepts_bare_hosts_and_urls() -> None:
    assert host_of("Dropbox.com") == "dropbox.com"
    assert host_of("https://a.b.example:8443/x?y=1") == "a.b.example"
    assert host_of("http://[bad") == ""
