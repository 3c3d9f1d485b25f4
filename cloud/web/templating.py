"""The pages' one template layer: every page module renders through :func:`page`, from the one
folder ``cloud/web/templates`` (a sub-folder a domain where a domain has several pages:
``maintenance/``, ``orders/``), on the one layout ``base.html`` with the one navigation
``_nav.html``, every value written by the filters of :mod:`cloud.web.formats`. Charts are
drawn by the macros of ``_charts.html`` from what a domain shaped
(:mod:`cloud.telemetry.charts`, :mod:`cloud.maintenance.charts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cloud.auth.models import Actor, Role
from cloud.web import formats

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.filters.update(formats.FILTERS)
templates.env.globals["formats"] = formats


def page(
    request: Request, name: str, actor: Actor | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page ``name`` for ``actor``, with the network and the roles every page may show."""
    network = request.app.state.context.settings.network
    values = {"actor": actor, "network": network, "Role": Role, **context}
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def sign_in(request: Request) -> HTMLResponse:
    """The sign-in form, for a page asked for without a valid key."""
    return templates.TemplateResponse(request, "login.html", status_code=401)
