"""Health and Prometheus metrics (no authentication: put them behind the network edge)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    responses={503: {"description": "a check failed: the same body, with the failing check"}},
)
def healthz(request: Request) -> JSONResponse:
    context = request.app.state.context
    checks: dict[str, str] = {}
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"failed: {exc.__class__.__name__}"
    if context.ingest is not None:
        connected = context.metrics.mqtt_connected.value() == 1
        checks["mqtt"] = "ok" if connected else "disconnected"
        checks["ingest"] = "stalled" if context.ingest.stalled() else "ok"
    if context.event_bus is not None:  # without it, pages stop updating live
        connected = context.metrics.event_bus_connected.value() == 1
        checks["event_bus"] = "ok" if connected else "disconnected"
    healthy = all(value == "ok" for value in checks.values())
    status = "ok" if healthy else "stalled" if checks.get("ingest") == "stalled" else "degraded"
    return JSONResponse(
        {"status": status, "checks": checks},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        request.app.state.context.metrics.render(),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
