"""mitmproxy add-on: inspect uploads with Detour and answer blocks with Detour's page.

For sites without an ICAP-capable proxy. Every request with a body (POST, PUT,
PATCH) is sent to Detour's ``POST /v1/intercept`` with its method, URL and the
headers that matter; Detour finds the uploads (multipart files, forms, raw
bodies) exactly as its ICAP server does. ``204`` lets the request go on; ``403``
is the answer the client gets: the block page, or the decision JSON for API
clients, with ``X-Detour-Decision``.

    mitmdump -s deploy/mitmproxy/detour.py --set detour_url=http://127.0.0.1:8080 \
        --set detour_token=dtr_…

``detour_token`` is the add-on's API client token (``detour client token create
mitmproxy --may-assert-user``; required when Detour runs in production). With a
token, the add-on tells Detour who is browsing: the address of the browser and,
with ``detour_user_header``, the user a header names. Without one, Detour records
the add-on's own address.

When Detour cannot be reached or answers anything else, the request is
stopped (``detour_fail_open=false``, the default): a gateway that lets uploads
through unchecked when it is down protects nothing. Set ``detour_fail_open``
only where the policy says uploads may pass unchecked.

This file needs nothing but mitmproxy and the standard library, so mitmproxy
can run in its own environment (``make install`` creates ``.venv-mitmproxy``).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from mitmproxy import ctx, http

INSPECTED_METHODS = ("POST", "PUT", "PATCH")
FORWARDED = ("Content-Type", "Content-Disposition", "Accept", "Accept-Language")
FAILED_PAGE = ("<!doctype html><html lang=en><meta charset=utf-8><title>Upload stopped</title>"
               "<h1>Sorry, this upload was stopped</h1><p>It could not be checked just now, so it was stopped to "
               "be safe. Please try again in a moment, or contact the helpdesk.</p></html>")


class Detour:
    def load(self, loader: object) -> None:
        loader.add_option("detour_url", str, "http://127.0.0.1:8080", "Detour's HTTP API")  # type: ignore[attr-defined]
        loader.add_option("detour_timeout", float, 150.0, "Seconds to wait for a decision")  # type: ignore[attr-defined]
        loader.add_option("detour_fail_open", bool, False,  # type: ignore[attr-defined]
                          "Let requests through when Detour can't decide (default: stop them)")
        loader.add_option("detour_user_header", str, "", "Request header that names the user, if any")  # type: ignore[attr-defined]
        loader.add_option("detour_token", str, "", "The add-on's API client token (detour client token create)")  # type: ignore[attr-defined]

    def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if request.method not in INSPECTED_METHODS or not request.raw_content:
            return
        headers = {f"X-Detour-Request-{name}": request.headers[name] for name in FORWARDED if name in request.headers}
        headers["X-Detour-Request-Method"] = request.method
        headers["X-Detour-Request-Url"] = request.pretty_url
        token = ctx.options.detour_token
        if token:  # only a client with a token (made --may-assert-user) may say who is browsing
            headers["Authorization"] = f"Bearer {token}"
            user_header = ctx.options.detour_user_header
            if user_header and user_header in request.headers:
                headers["X-Detour-User"] = request.headers[user_header]
            if flow.client_conn.peername:
                headers["X-Detour-Client-Ip"] = str(flow.client_conn.peername[0])
        ask = urllib.request.Request(ctx.options.detour_url.rstrip("/") + "/v1/intercept",
                                     data=request.raw_content, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(ask, timeout=ctx.options.detour_timeout) as answer:
                if answer.status == 204:
                    return  # let it go on
                status, body, answer_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as error:
            status, body, answer_headers = error.code, error.read(), error.headers
        except OSError as error:  # unreachable, timed out
            logging.warning("detour: no decision (%s)", type(error).__name__)
            status, body, answer_headers = 0, b"", None
        if status == 403 and answer_headers is not None:
            keep = ("Content-Type", "X-Detour-Decision", "X-Detour-Action", "Cache-Control", "Content-Language",
                    "Content-Security-Policy")
            flow.response = http.Response.make(403, body, {k: answer_headers[k] for k in keep if answer_headers[k]})
            return
        if status in (401, 403):
            logging.error("detour: Detour refused the add-on (HTTP %s): set detour_token to a token made with "
                          "detour client token create NAME --may-assert-user", status)
        if ctx.options.detour_fail_open:
            logging.warning("detour: HTTP %s from Detour; letting the request through (detour_fail_open)", status)
            return
        flow.response = http.Response.make(403, FAILED_PAGE, {"Content-Type": "text/html; charset=utf-8",
                                                             "Cache-Control": "no-store"})


addons = [Detour()]
