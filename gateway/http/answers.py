"""The JSON error answer every HTTP route and middleware gives: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
