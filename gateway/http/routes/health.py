"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.http.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: policy loaded and detectors ready")
async def readyz(runtime: RuntimeDep) -> dict[str, Any]:
    policy = runtime.policy
    return {
        "status": "ready",
        "policy": {"name": policy.document.policy.name, "version": policy.document.policy.version,
                   "digest": policy.digest, "files": list(policy.files)},
        "detectors": len(runtime.registry.recognizers),
    }
