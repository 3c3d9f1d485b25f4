"""Fixtures of the gateway tests: a simulated plant, the coordinator's MQTT view, the gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from glonet.broker import MosquittoBroker
from tests.edge.support import MILL, Coordinator, GatewayProcess, SimPlant, gateway_config


@pytest.fixture
def plant() -> Iterator[SimPlant]:
    sim = SimPlant([MILL])
    sim.start()
    yield sim
    sim.close()


@pytest.fixture
def coordinator(running_mosquitto: MosquittoBroker) -> Iterator[Coordinator]:
    observer = Coordinator(running_mosquitto)
    yield observer
    observer.close()


@pytest.fixture
def make_gateway(
    tmp_path: Path, running_mosquitto: MosquittoBroker
) -> Iterator[Callable[..., GatewayProcess]]:
    gateways: list[GatewayProcess] = []

    def make(plant: SimPlant, start: bool = True, **overrides: Any) -> GatewayProcess:
        config = gateway_config(tmp_path, running_mosquitto, plant, **overrides)
        gateway = GatewayProcess(tmp_path, config)
        gateways.append(gateway)
        if start:
            gateway.start()
        return gateway

    yield make
    for gateway in gateways:
        gateway.kill_if_running()
