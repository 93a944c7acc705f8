"""Metadata is content too: values in a file name, a URL's path, a user name or what people type into the page
are masked before they are kept, logged, shown or sent, through a real `detour serve` and its helpdesk webhook."""

from __future__ import annotations

import re
import sqlite3
import time

import httpx

from tests.icap_client import exchange, reqmod
from tests.services import DetourService, Origin

PERSONNUMMER, CARD, EMAIL = "811218-9876", "4111111111111111", "anna.berg@example.com"
RAW = (PERSONNUMMER, CARD, "4111 1111 1111 1111", EMAIL)


def test_values_in_metadata_are_nowhere_to_be_found(detour_service: DetourService, helpdesk: Origin) -> None:
    name = f"payslip_{PERSONNUMMER}_{CARD}.txt"
    benign = b"Meeting notes: the spring campaign starts in May.\n"
    api = httpx.post(f"{detour_service.http}/v1/inspect", content=benign,
                     params={"filename": name, "destination": f"https://wetransfer.com/to/{EMAIL}/upload"},
                     headers={"X-Detour-User": PERSONNUMMER, "Accept-Language": "sv", **detour_service.auth},
                     timeout=30)
    report = api.json()
    assert api.status_code == 200 and report["decision"] == "allow"
    head = (f"POST http://share.files-example.net/u/{EMAIL} HTTP/1.1\r\nHost: share.files-example.net\r\n"
            f"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n").encode()
    assert exchange(detour_service.icap_port, *reqmod(head, benign, extra=f"X-Client-Username: {EMAIL}\r\n"))
    # a stop, so that its page, a review request and a ticket have something to be about
    stopped = httpx.post(f"{detour_service.http}/v1/inspect", content=b"SSN 536-22-1234\n",
                         params={"filename": name, "destination": "wetransfer.com"}, headers=detour_service.auth,
                         timeout=30).json()
    decision = stopped["decision_id"]
    page = httpx.get(f"{detour_service.http}/d/{decision}", timeout=30).text
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
    assert token is not None
    typed = {"form_token": token.group(1), "tool": f"a tool for {EMAIL}", "why": f"to send card {CARD} on"}
    assert httpx.post(f"{detour_service.http}/d/{decision}/review", data=typed, timeout=30).status_code == 303
    ticket = {"form_token": token.group(1), "note": f"call me on the number in {PERSONNUMMER}"}
    assert httpx.post(f"{detour_service.http}/d/{decision}/ticket", data=ticket, timeout=30).status_code == 303
    page = httpx.get(f"{detour_service.http}/d/{decision}", timeout=30).text
    time.sleep(1)  # the writer stores, the webhook delivers
    with sqlite3.connect(detour_service.log.parent / "data" / "detour.db") as connection:
        store = "\n".join(connection.iterdump())
    sent = "\n".join(r.body.decode() for r in helpdesk.received)
    places = {"answer": api.text, "page": page, "store": store, "audit log": detour_service.audit.read_text(),
              "server log": detour_service.log.read_text(), "webhook": sent}
    assert "payslip" in store and decision in sent  # what was looked through holds these decisions
    for where, text in places.items():
        for value in RAW:
            assert value not in text, f"{value[:3]}… in the {where}"
