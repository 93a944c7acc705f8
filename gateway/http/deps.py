"""Typed FastAPI dependencies: each route asks for the part of the runtime it needs."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from gateway.pipeline import Pipeline
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.staff.webhook import HelpdeskWebhook
from gateway.store import DecisionStore


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def get_pipeline(request: Request) -> Pipeline:
    return get_runtime(request).pipeline


def get_store(request: Request) -> DecisionStore:
    return get_runtime(request).store


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def get_webhook(request: Request) -> HelpdeskWebhook | None:
    return get_runtime(request).webhook


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
StoreDep = Annotated[DecisionStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WebhookDep = Annotated[HelpdeskWebhook | None, Depends(get_webhook)]
