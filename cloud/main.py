"""The application factory: ``create_app(settings)`` wires database, sink and routers.

Domains add their router to :data:`ROUTERS`; :func:`build_context` migrates the database, and
the lifespan runs the background services (:func:`cloud.services.services`: ingest, dispatcher,
maintenance worker…) unless the ingest is disabled, stopping them in order on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from cloud.auth.views import router as auth_router
from cloud.codesign.families import FamilyError, ProductFamily, load_families
from cloud.codesign.views import router as codesign_router
from cloud.config import Settings
from cloud.consortia.views import router as consortia_router
from cloud.context import AppContext
from cloud.database import make_engine, make_session_factory, migrate, transaction
from cloud.dispatch.views import router as dispatch_router
from cloud.exceptions import ConfigurationError
from cloud.ingest.applier import Pipeline
from cloud.ingest.views import router as ingest_router
from cloud.ledger.views import router as ledger_router
from cloud.maintenance.views import router as maintenance_router
from cloud.messaging.views import router as outbox_router
from cloud.network.views import router as network_router
from cloud.notifications.views import router as notifications_router
from cloud.operations.headers import SecurityHeaders
from cloud.operations.http import BodyLimit, RequestMetrics, StrictInput, install_error_handlers
from cloud.operations.memory import settle_after_startup
from cloud.operations.metrics import Metrics
from cloud.operations.views import router as operations_router
from cloud.opportunities.views import router as opportunities_router
from cloud.orders.views import router as orders_router
from cloud.products.views import router as products_router
from cloud.registry import service as registry_service
from cloud.registry.views import router as registry_router
from cloud.scorecards.views import router as scorecards_router
from cloud.services import Wanted, ingest_hooks, services
from cloud.suppliers.views import router as suppliers_router
from cloud.telemetry.sink import make_sink
from cloud.telemetry.views import router as telemetry_router
from cloud.web.views import router as pages_router

ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    registry_router,
    network_router,
    telemetry_router,
    operations_router,
    pages_router,
    codesign_router,
    orders_router,
    opportunities_router,
    consortia_router,
    products_router,
    dispatch_router,
    maintenance_router,
    ingest_router,
    outbox_router,
    notifications_router,
    suppliers_router,
    ledger_router,
    scorecards_router,
)


def build_context(settings: Settings) -> AppContext:
    """Engine, migrated schema, the coordinator's network row, sink and metrics."""
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    session_factory = make_session_factory(engine)
    with transaction(session_factory) as session:
        registry_service.ensure_network(session=session, network_id=settings.network)
    metrics = Metrics()
    sink = make_sink(settings.telemetry, metrics, network=settings.network)
    return AppContext(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        sink=sink,
        metrics=metrics,
        families=_families(settings),
        pipeline=Pipeline.for_settings(
            settings,
            session_factory=session_factory,
            sink=sink,
            metrics=metrics,
            hooks=ingest_hooks(settings).build(),
        ),
    )


def _families(settings: Settings) -> dict[str, ProductFamily]:
    try:
        return load_families(settings.orders.families_dir)
    except FamilyError as exc:
        raise ConfigurationError(str(exc)) from exc


def operations_app(context: AppContext) -> FastAPI:
    """``/healthz`` and ``/metrics`` alone, for a process that serves no API
    (``glonet cloud ingest --metrics-port``)."""
    app = FastAPI(title="GloNet coordinator worker", docs_url=None, redoc_url=None)
    app.state.context = context
    install_error_handlers(app)
    app.include_router(operations_router)
    return app


def api_app(**options: Any) -> FastAPI:
    """The coordinator's routes and error answers, without a context: what ``/openapi.json``
    describes (``create_app`` adds the context, the lifespan and the middleware)."""
    app = FastAPI(
        title="GloNet coordinator",
        version="1.0",
        description="Registry, live network state, telemetry and access control.",
        **options,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def create_app(settings: Settings) -> FastAPI:
    context = build_context(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            async with services(context, Wanted(ingest=settings.ingest.enabled)):
                settle_after_startup()
                yield
        finally:
            context.sink.close()
            context.engine.dispose()

    app = api_app(lifespan=lifespan)
    app.state.context = context
    app.add_middleware(StrictInput)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    viewers = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeaders, viewer_paths=[url for url in viewers if url])
    app.add_middleware(RequestMetrics, metrics=context.metrics)
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: ``X-Forwarded-Proto`` and ``-For`` are believed only from the
    proxies ``trusted_proxies`` names (uvicorn alone would believe 127.0.0.1)."""
    trusted = settings.trusted_proxies
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}
