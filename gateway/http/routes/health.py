"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.http.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: policy loaded, detectors ready, decisions recorded",
            description="`ready`; `degraded` (200) while the decision store can't be written and decisions wait in "
                        "the spool; `not ready` (503) when the spool is full too (decisions are then only in the "
                        "audit log): a load balancer sends uploads to another replica.")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    policy = runtime.policy
    health = runtime.recorder.health()
    status = {"ok": "ready", "degraded": "degraded", "full": "not ready"}[health.state]
    body: dict[str, Any] = {
        "status": status,
        "policy": {"name": policy.document.policy.name, "version": policy.document.policy.version,
                   "digest": policy.digest, "files": list(policy.files),
                   **runtime.reloader.state().as_json(warnings="count")},
        "detectors": len(runtime.registry.recognizers),
        "store": {"state": health.state, "queued": health.queued, "spooled": health.spooled, "error": health.error},
    }
    return JSONResponse(body, status_code=503 if health.state == "full" else 200,
                        headers={"Cache-Control": "no-store"})
