"""``POST /v1/intercept``: decide on a whole intercepted HTTP request (for proxy add-ons such as mitmproxy's).

The add-on forwards the request's body as it is, with its method, URL and the
headers that matter in ``X-Detour-Request-*`` headers. The answer is ``204``
when the request may go on, or the ``403`` answer to give the client: the block
page or the decision JSON (by the forwarded ``Accept``), with ``X-Detour-Decision``.
Uploads are found exactly as the ICAP server finds them (``gateway.uploads``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway.deps import PipelineDep
from gateway.errors import BadRequest
from gateway.intercept import blocked_response, decide_request
from gateway.uploads import BodyCollector, HttpRequestHead

router = APIRouter(tags=["proxies"])


@router.post(
    "/v1/intercept",
    summary="Decide on an intercepted HTTP request (proxy add-ons)",
    description="Body: the intercepted request's body. Headers: X-Detour-Request-Method, X-Detour-Request-Url, "
    "X-Detour-Request-Content-Type, and optionally X-Detour-Request-Accept, X-Detour-Request-Accept-Language, "
    "X-Detour-User, X-Detour-Client-Ip. Answers 204 (let it go) or 403 with the block page or decision JSON.",
    status_code=204,
    responses={403: {"description": "Blocked: the answer to give the client"}, 400: {"description": "Malformed"}},
)
async def intercept(request: Request, pipeline: PipelineDep) -> Response:
    forwarded = request.headers
    method, url = forwarded.get("x-detour-request-method", ""), forwarded.get("x-detour-request-url", "")
    if not method or "://" not in url:
        raise BadRequest("Send the intercepted request's method and absolute URL in X-Detour-Request-Method and "
                         "X-Detour-Request-Url, and its body as the body.")
    headers = [(name, forwarded[f"x-detour-request-{name.lower()}"]) for name in
               ("Content-Type", "Content-Disposition", "Accept", "Accept-Language")
               if f"x-detour-request-{name.lower()}" in forwarded]
    head = HttpRequestHead(method.upper(), url, headers)
    collector = BodyCollector(head, pipeline.limits.max_upload_bytes)
    async for chunk in request.stream():
        collector.feed(chunk)
    try:
        uploads = collector.finish()
    except Exception:
        raise BadRequest("The forwarded multipart body does not parse.") from None
    warnings_stop = bool(pipeline.settings.public_url) and pipeline.store is not None
    blocked = await run_in_threadpool(decide_request, pipeline.inspect, head, uploads, forwarded.get("x-detour-user"),
                                      "mitmproxy", forwarded.get("x-detour-client-ip", "")[:64] or None, warnings_stop)
    if blocked is None:
        return Response(status_code=204)
    body, answer_headers = blocked_response(blocked, head.header("Accept"), pipeline.settings.public_url)
    return Response(body, status_code=403, headers={k: v for k, v in answer_headers if k != "Content-Length"})
