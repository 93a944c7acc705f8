"""``POST /v1/intercept``: decide on a whole intercepted HTTP request (for proxy add-ons such as mitmproxy's).

The add-on forwards the request's body as it is, with its method, URL and the
headers that matter in ``X-Detour-Request-*`` headers. The answer is ``204``
when the request may go on, or the ``403`` answer to give the client: the block
page or the decision JSON (by the forwarded ``Accept``), with ``X-Detour-Decision``.
The body is read and decided exactly as the ICAP server does (``proxy``): a body
over the upload limit, or one that does not parse, is decided by the policy.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.errors import BadRequest
from gateway.http.auth import CallerDep
from gateway.http.deps import PipelineDep, RuntimeDep, SettingsDep
from gateway.proxy.answer import blocked_response
from gateway.proxy.body import BodyReader, HttpRequestHead, request_file_name
from gateway.proxy.decide import decide_request
from gateway.records import Channel
from gateway.staff.redaction import offered

router = APIRouter(tags=["proxies"])

FORWARDED = ("Content-Type", "Content-Disposition", "Accept", "Accept-Language")


@router.post(
    "/v1/intercept",
    summary="Decide on an intercepted HTTP request (proxy add-ons)",
    description="Body: the intercepted request's body. Headers: X-Detour-Request-Method, X-Detour-Request-Url, "
    "X-Detour-Request-Content-Type, and optionally X-Detour-Request-Content-Disposition, "
    "X-Detour-Request-Accept, X-Detour-Request-Accept-Language; from a client allowed to assert users, "
    "X-Detour-User, X-Detour-Group and X-Detour-Client-Ip (the browsing person). Send the client token as "
    "`Authorization: Bearer`. Answers 204 (let it go) or 403 with the block page or decision JSON.",
    status_code=204,
    responses={403: {"description": "Stopped: the answer to give the client"},
               400: {"description": "The intercepted request's method or URL is missing"},
               401: {"description": "No valid client token"}},
)
async def intercept(request: Request, pipeline: PipelineDep, settings: SettingsDep, runtime: RuntimeDep,
                    caller: CallerDep) -> Response:
    forwarded = request.headers
    method, url = forwarded.get("x-detour-request-method", ""), forwarded.get("x-detour-request-url", "")
    if not method or "://" not in url:
        raise BadRequest("Send the intercepted request's method and absolute URL in X-Detour-Request-Method and "
                         "X-Detour-Request-Url, and its body as the body.")
    headers = [(name, forwarded[f"x-detour-request-{name.lower()}"]) for name in FORWARDED
               if f"x-detour-request-{name.lower()}" in forwarded]
    head = HttpRequestHead(method.upper(), url, headers)
    sender = caller.sender(Channel.INTERCEPT, forwarded.get("x-detour-user"), forwarded.get("x-detour-group"),
                           forwarded.get("x-detour-client-ip"))
    with BodyReader(head.header("Content-Type"), pipeline.limits.max_upload_bytes, request_file_name(head)) as reader:
        async for chunk in request.stream():
            reader.feed(chunk)
        stopping = await decide_request(pipeline, head, reader.finish(), sender,
                                        warnings_stop=bool(settings.public_url))
    if stopping is None:
        return Response(status_code=204)
    answer, answer_headers = blocked_response(stopping, head.header("Accept"), settings.public_url,
                                              runtime.form_tokens.issue(stopping.decision_id),
                                              offered(pipeline, stopping))
    return Response(answer, status_code=403, headers={k: v for k, v in answer_headers if k != "Content-Length"})
