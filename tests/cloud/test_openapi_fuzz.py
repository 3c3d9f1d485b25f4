"""schemathesis against the real coordinator, served by uvicorn on its real database, with
an API key for each role: no 5xx, every status code declared, every response as its schema.

Bounded: ``GLONET_FUZZ_EXAMPLES`` generated cases per operation plus schemathesis's coverage
cases (about 35 an operation in all), each sent with the next role's key in turn; reproducible
from ``GLONET_FUZZ_SEED`` (printed), with no Hypothesis example database on disk. Runs on
SQLite, and on PostgreSQL where ``GLONET_TEST_POSTGRES_URL`` is set (NUL bytes differ there).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import assume
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud.config import load_settings
from cloud.main import api_app, create_app
from tests.cloud.conftest import Tenants, populate
from tests.cloud.serving import serve
from tests.conftest import fresh_postgres_database

FUZZ_SEED = int(os.environ.get("GLONET_FUZZ_SEED", "20"))
FUZZ_EXAMPLES = int(os.environ.get("GLONET_FUZZ_EXAMPLES", "10"))
ROLES = ("coordinator", "plant-a", "technician", "customer")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Server-sent event streams never end; their answers are tested in test_page and maintenance.
STREAMS = r"/events$"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": FUZZ_SEED,
        "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(api_app().openapi(), config=CONFIG).exclude(
    path_regex=STREAMS
)
# Random ids rarely name a row: half the cases have the ids of the fixture's members instead (the
# caller's own or another member's), so that they reach past the look-up. Never for a DELETE,
# which would remove the fixture.
KNOWN_IDS = {
    "unit_id": ("plant-a", "plant-b"),
    "employer_unit_id": ("plant-a", "plant-b"),
    "from_unit_id": ("plant-a", "plant-b"),
    "to_unit_id": ("plant-a", "plant-b"),
    "machine": ("m1",),
    "asset": ("m1",),
    "technician_id": ("tech-plant-a", "tech-plant-b"),
    "network_id": ("fuzz",),
    "family_id": ("robotic-cell",),
}


def _known_ids(generated: Any) -> st.SearchStrategy[Any]:
    if not isinstance(generated, dict):
        return st.just(generated)
    return st.fixed_dictionaries(
        {
            key: st.sampled_from(KNOWN_IDS[key]) if key in KNOWN_IDS else st.just(value)
            for key, value in generated.items()
        }
    )


def _sometimes_known(context: schemathesis.HookContext, strategy: Any) -> Any:
    if context.operation is None or context.operation.method.upper() == "DELETE":
        return strategy
    return st.one_of(strategy, strategy.flatmap(_known_ids))


for _part in ("path_parameters", "query", "body"):
    schema.hook(f"before_generate_{_part}")(_sometimes_known)


@dataclass
class Served:
    base_url: str
    tenants: Tenants
    cases: int = 0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    print(f"schemathesis seed {FUZZ_SEED}, {FUZZ_EXAMPLES} examples per operation")
    with ExitStack() as stack:
        data_dir: Path = tmp_path_factory.mktemp("fuzz")
        if request.param == "sqlite":
            db_url = f"sqlite:///{data_dir / 'coordinator.sqlite'}"
        else:
            db_url = stack.enter_context(fresh_postgres_database())
        settings = load_settings(
            None,
            network="fuzz",
            data_dir=data_dir,
            database_url=db_url,
            ingest={"enabled": False},
            events={"bus": "off"},
        )
        app = create_app(settings)
        tenants = populate(app.state.context)
        started = time.monotonic()
        served = Served(stack.enter_context(serve(app)), tenants)
        yield served
        print(
            f"schemathesis on {request.param}: {served.cases} cases"
            f" in {time.monotonic() - started:.0f} s"
        )


@schema.parametrize()
def test_every_role_gets_a_declared_non_5xx_answer(case: schemathesis.Case, served: Served) -> None:
    if case.operation.path == "/api/principals/{principal_id}" and case.method == "DELETE":
        # Deleting the fuzz's own keys would leave every later case unauthenticated.
        principal_id = case.path_parameters["principal_id"]
        assume(not isinstance(principal_id, int) or principal_id > len(served.tenants.keys))
    # One role per case, in turn: every role meets every operation, at a quarter of the cost.
    role = ROLES[served.cases % len(ROLES)]
    served.cases += 1
    case.call_and_validate(
        base_url=served.base_url, headers=served.tenants.headers(role), checks=CHECKS
    )
