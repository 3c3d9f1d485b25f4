"""The accounts' page: where an invitation link leads (the sign-in form is
:func:`cloud.web.templating.sign_in`, shown by every page to a caller without a valid key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.models import MIN_PASSWORD
from cloud.web.templating import page

router = APIRouter(include_in_schema=False)


@router.get("/invite", response_class=HTMLResponse)
def invitation_page(request: Request) -> HTMLResponse:
    """The person sets their password (the token is in the link's fragment and goes to the API
    from the page)."""
    return page(request, "invite.html", None, min_password=MIN_PASSWORD)
