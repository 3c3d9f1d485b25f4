"""Fixtures of the conformance scenarios: one server, one gateway and one observer per module.

``server`` is parametrised indirectly: a scenario module sets
``pytestmark = pytest.mark.parametrize("server", [...], indirect=True)`` with the names of the
servers (:data:`SERVERS`) that have what it tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glonet.broker import MosquittoBroker
from tests.edge.conformance.servers import SERVERS, ServerUnderTest
from tests.edge.support import Coordinator, GatewayProcess, gateway_config


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[ServerUnderTest]:
    started = SERVERS[request.param]()
    started.start()
    yield started
    started.close()


@pytest.fixture(scope="module")
def observer(mosquitto: MosquittoBroker) -> Iterator[Coordinator]:
    mosquitto.start()
    watching = Coordinator(mosquitto)
    yield watching
    watching.close()


@pytest.fixture(scope="module")
def gateway_settings() -> dict[str, Any]:
    """Overrides of the gateway's configuration; a scenario module may redefine it."""
    return {}


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoBroker,
    server: ServerUnderTest,
    observer: Coordinator,
    gateway_settings: dict[str, Any],
) -> Iterator[GatewayProcess]:
    """The gateway on ``server``'s machine, started once the observer listens."""
    workdir: Path = tmp_path_factory.mktemp("gateway")
    config = gateway_config(workdir, mosquitto, server, **gateway_settings)
    process = GatewayProcess(workdir, config)
    process.start()
    yield process
    process.stop()
