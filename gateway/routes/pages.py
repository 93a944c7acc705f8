"""The decision page ``/d/{decision_id}`` and its tracked route links ``/d/{decision_id}/go/{alternative_id}``.

Decision ids are unguessable (80 random bits), so the id is the capability to see
the page. A route link records that the person took the route, then redirects
to that route's URL as offered with the decision: only URLs from the policy's
catalogue, never one from the request (no open redirect).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from gateway.blockpage import render_block_page
from gateway.deps import PipelineDep
from gateway.errors import BadRequest

router = APIRouter(tags=["pages"])


@router.get("/d/{decision_id}", response_class=HTMLResponse, summary="The page of a decision")
async def decision_page(decision_id: str, pipeline: PipelineDep) -> HTMLResponse:
    stored = await run_in_threadpool(_get, pipeline, decision_id)
    return HTMLResponse(render_block_page(stored.report, link_base="", stored=stored),
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/d/{decision_id}/go/{alternative_id}", summary="Take an offered route (recorded), then go there")
async def take_route(decision_id: str, alternative_id: str, pipeline: PipelineDep,
                     request: Request) -> RedirectResponse:
    stored = await run_in_threadpool(_get, pipeline, decision_id)
    offer = next((o for o in stored.report.alternatives if o.id == alternative_id), None)
    if offer is None or not offer.url:
        raise HTTPException(404, "This route was not offered with this decision.")
    assert pipeline.store is not None
    await run_in_threadpool(pipeline.store.route_taken, decision_id, alternative_id)
    return RedirectResponse(offer.url, status_code=303, headers={"Cache-Control": "no-store"})


def _get(pipeline: PipelineDep, decision_id: str):  # type: ignore[no-untyped-def]
    stored = pipeline.store.get(decision_id) if pipeline.store is not None and len(decision_id) <= 32 else None
    if stored is None:
        raise HTTPException(404, "No decision with this reference. Check the reference in your message.")
    return stored


@router.post("/d/{decision_id}/review", summary="Ask IT to review the destination (what tool, why, by when)")
async def request_review(decision_id: str, request: Request, pipeline: PipelineDep) -> RedirectResponse:
    await run_in_threadpool(_get, pipeline, decision_id)
    form = await request.form(max_files=0, max_fields=10)
    tool, why = _text(form.get("tool"), 200), _text(form.get("why"), 2000)
    if not tool or not why:
        raise BadRequest("Say which tool or site you need and what for.")
    assert pipeline.store is not None
    await run_in_threadpool(pipeline.store.request_review, decision_id, tool, why, _text(form.get("needed_by"), 40))
    return RedirectResponse(f"/d/{decision_id}#review", status_code=303)


@router.post("/d/{decision_id}/wrong", summary="Report that the decision looks wrong (a false positive)")
async def report_wrong(decision_id: str, request: Request, pipeline: PipelineDep) -> RedirectResponse:
    await run_in_threadpool(_get, pipeline, decision_id)
    form = await request.form(max_files=0, max_fields=10)
    believed = _text(form.get("believed"), 2000)
    if not believed:
        raise BadRequest("Say what the file is, as far as you know.")
    assert pipeline.store is not None
    await run_in_threadpool(pipeline.store.report_wrong, decision_id, believed)
    return RedirectResponse(f"/d/{decision_id}#wrong", status_code=303)


def _text(value: object, limit: int) -> str:
    """A form field as one trimmed line of text, at most ``limit`` characters."""
    return " ".join(str(value or "").split())[:limit] if isinstance(value, str) or value is None else ""
