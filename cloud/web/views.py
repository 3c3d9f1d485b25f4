"""The pages' one router: each domain's page module, all rendering through
:mod:`cloud.web.templating`."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.web import (
    accounts,
    codesign,
    consortia,
    ledger,
    machines,
    maintenance,
    network,
    opportunities,
    orders,
    people,
    plans,
    products,
    scorecards,
)

router = APIRouter(include_in_schema=False)
for pages in (
    network,
    accounts,
    machines,
    codesign,
    orders,
    opportunities,
    products,
    plans,
    maintenance,
    consortia,
    ledger,
    scorecards,
    people,
):
    router.include_router(pages.router)
