"""Secrets in the coordinator's and the gateway's settings never show in reprs or errors."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from cloud.config import load_settings
from edge.config import BrokerConfig

DATABASE_PASSWORD = "db-pa55"
BROKER_PASSWORD = "mqtt-pa55"
INFLUX_TOKEN = "influx-t0ken"


def test_coordinator_secrets_are_hidden_but_usable(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        data_dir=tmp_path,
        database_url=f"postgresql+psycopg://glonet:{DATABASE_PASSWORD}@db.example/glonet",
        mqtt={"username": "coordinator", "password": BROKER_PASSWORD},
        telemetry={"influx_token": INFLUX_TOKEN},
    )
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in (DATABASE_PASSWORD, BROKER_PASSWORD, INFLUX_TOKEN):
        assert secret not in shown
    assert DATABASE_PASSWORD in settings.resolved_database_url
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == BROKER_PASSWORD
    assert settings.telemetry.influx_token.get_secret_value() == INFLUX_TOKEN


def test_a_bad_setting_next_to_a_secret_does_not_print_it(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError) as failure:
        load_settings(None, data_dir=tmp_path, mqtt={"password": BROKER_PASSWORD, "port": 0})
    assert BROKER_PASSWORD not in str(failure.value)


def test_gateway_broker_password_is_hidden_but_usable() -> None:
    broker = BrokerConfig(url="mqtt://127.0.0.1:1883", username="plant-a", password=BROKER_PASSWORD)
    assert BROKER_PASSWORD not in repr(broker) + broker.model_dump_json()
    assert broker.password is not None and broker.password.get_secret_value() == BROKER_PASSWORD
