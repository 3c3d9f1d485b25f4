"""Test helpers reused across the suite.

- ``glonet.broker.free_port()`` gives a TCP port free right now (the launcher's own, one for all).
- ``mosquitto`` (module scope): a private Mosquitto on a free port, from a generated config in a
  temporary directory, that a test can ``stop()``, ``kill()``, ``start()`` or ``restart()`` on the
  same port. ``mosquitto_factory`` makes more, with extra configuration (ACLs, TLS…).
- ``acme_press`` (module scope): the third-party OPC UA server of the conformance tests
  (node-opcua, :mod:`tests.opcua_server`) on a free port, ready, killed afterwards.
- ``browser`` (module scope): headless Debian Chromium (:mod:`tests.browser`) for a module's page
  tests; ``screenshots``: the folder their screenshots are kept in as test artifacts.
- ``postgres_url``: a throw-away PostgreSQL database (SQLAlchemy URL), created for the test and
  dropped afterwards; skipped with a reason when ``GLONET_TEST_POSTGRES_URL`` is not set.
"""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from glonet.broker import MosquittoBroker
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.opcua_server import AcmePress

POSTGRES_ENV = "GLONET_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
LONGEST_FIRST = (
    # Measured 2026-12-07 (setup + call + teardown per module, PostgreSQL on): the top 15.
    "tests/cloud/ingest/test_ingest.py",
    "tests/cloud/maintenance/tickets/test_api.py",
    "tests/cloud/test_cli.py",
    "tests/cloud/dispatch/test_flows.py",
    "tests/cloud/auth/test_member_privacy.py",
    "tests/cloud/test_openapi_fuzz.py",
    "tests/test_wheel.py",  # builds the wheel, compiling the core: minutes on a loaded machine
    "tests/cloud/web/test_page.py",
    "tests/cloud/test_chaos.py",
    "tests/cloud/test_api_hygiene.py",
    "tests/edge/test_reliability.py",
    "tests/cloud/orders/test_pages.py",
    "tests/cloud/orders/test_api.py",
    "tests/cloud/test_api.py",
    "tests/edge/test_gateway.py",
)
"""Modules that run longest, started first: with ``--dist loadfile`` a long module collected
last would run alone on one worker at the end while the others wait (pyproject.toml's
``--no-loadscope-reorder`` keeps this order)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(ROOT).as_posix(), len(rank))

    items.sort(key=order)  # stable: every other module keeps its place


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def mosquitto_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., MosquittoBroker]]:
    brokers: list[MosquittoBroker] = []

    def make(extra_config: str = "", start: bool = True, **options: Any) -> MosquittoBroker:
        broker = MosquittoBroker(
            tmp_path_factory.mktemp("mosquitto"), extra_config=extra_config, **options
        )
        brokers.append(broker)
        if start:
            broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture(scope="module")
def mosquitto(mosquitto_factory: Callable[..., MosquittoBroker]) -> MosquittoBroker:
    return mosquitto_factory()


@pytest.fixture
def running_mosquitto(mosquitto: MosquittoBroker) -> MosquittoBroker:
    """The module's broker, started again if an earlier test left it stopped."""
    mosquitto.start()
    return mosquitto


@pytest.fixture(scope="module")
def acme_press() -> Iterator[AcmePress]:
    press = AcmePress()
    press.start()
    yield press
    press.kill()


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: PostgreSQL tests need a server "
            "(.ci/run sets it to postgresql://postgres@127.0.0.1:5432/test)"
        )
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, as a SQLAlchemy (psycopg 3) URL."""
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a throw-away database (empty, or a copy of the database ``template``), yield its
    SQLAlchemy (psycopg 3) URL, drop it after; skipped with a reason when
    ``GLONET_TEST_POSTGRES_URL`` is not set."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(_postgres_base_url())
    admin = base.set(drivername="postgresql")
    name = f"glonet_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = admin.render_as_string(hide_password=False)
    copy = f' TEMPLATE "{template}"' if template else ""
    _DROPPER.check()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        _DROPPER.drop(admin_dsn, name)


class _DatabaseDropper:
    """Drops the throw-away databases on a thread of its own. PostgreSQL checkpoints on every
    DROP DATABASE, one to two seconds on a loaded machine, which no test needs to wait for; the
    next database asked for, and the end of the session, fail if a drop failed; the session
    waits for the last drop before it ends."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    def drop(self, admin_dsn: str, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self._thread.start()
        self._queue.put((admin_dsn, name))

    def wait(self) -> None:
        self._queue.join()
        self.check()

    def check(self) -> None:
        if self.failures:
            raise RuntimeError("could not drop test databases: " + "; ".join(self.failures))

    def _run(self) -> None:
        import psycopg

        while True:
            admin_dsn, name = self._queue.get()
            try:
                with psycopg.connect(admin_dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as exc:
                self.failures.append(f"{name}: {exc}")
            finally:
                self._queue.task_done()


_DROPPER = _DatabaseDropper()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _DROPPER.wait()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests save screenshots and charts for people to look at (not in git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
