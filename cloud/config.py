"""Coordinator settings: one pydantic-settings object, loaded once in the entry point.

Passwords, tokens and URLs that may carry credentials are ``SecretStr``: they print as
``**********`` in reprs, logs and validation errors, and the code that uses one asks for its value
(``get_secret_value()``) at that point.

Values come from (highest first) ``GLONET_*`` environment variables (nested with ``__``, e.g.
``GLONET_MQTT__PORT=1884``), then an optional YAML or TOML file, then the defaults below.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cloud.auth.config import AccountSettings
from cloud.exceptions import ConfigurationError
from cloud.maintenance.config import MaintenanceSettings

DEFAULT_DATA_DIR = Path("var/coordinator")
DEFAULT_NETWORK = "demo"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# The families shipped inside the package (cloud/codesign/catalogue/, package data): a path, not an
# import, so that the settings import no domain.
DEFAULT_FAMILIES_DIR = Path(__file__).resolve().parent / "codesign" / "catalogue"


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "glonet-coordinator"
    share_group: str | None = Field(
        default=None,
        description="join the shared subscription $share/<group>/... (several ingest workers)",
    )
    keepalive: int = Field(default=30, ge=5)
    tls_ca_file: Path | None = None


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS (port 587); refused if the server can't."""
    TLS = "tls"
    """TLS from the first byte (port 465)."""
    NONE = "none"
    """No encryption: a relay on the same host or a test server only."""


class SmtpSettings(BaseModel):
    """The mail server that carries people's notifications; none configured (no ``host``):
    emails are kept in the outbox and marked failed after their attempts, so nothing is lost
    silently."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(
        default="GloNet <glonet@localhost>", description="the From header of every email"
    )
    timeout_s: float = Field(default=10.0, gt=0)
    tls_ca_file: Path | None = Field(
        default=None, description="a private CA's certificate for the server's (else the system's)"
    )
    link_base: AnyHttpUrl | None = Field(
        default=None,
        description="the coordinator's address as people reach it (https://glonet.example.org): "
        "an email's page is a link on it; none: the email gives the page's path alone",
    )


class SinkKind(StrEnum):
    EMBEDDED = "embedded"
    INFLUXDB = "influxdb"


class TelemetrySettings(BaseModel):
    sink: SinkKind = SinkKind.EMBEDDED
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: SecretStr = SecretStr("")
    influx_org: str = "glonet"
    influx_bucket: str = "telemetry"
    influx_batch_size: int = Field(default=5000, ge=1)
    influx_flush_interval_ms: int = Field(default=1000, ge=10)
    influx_max_retries: int = Field(default=3, ge=0)
    rollup_retention_minutes: int = Field(default=24 * 60, ge=1)
    sample_retention_hours: int = Field(default=7 * 24, ge=1)


class IngestIsolation(StrEnum):
    PROCESS = "process"
    THREAD = "thread"


class IngestSettings(BaseModel):
    enabled: bool = True
    isolation: IngestIsolation = Field(
        default=IngestIsolation.PROCESS,
        description="where batches are decoded and applied: a child process of their own"
        " (keeps the API responsive under load), or threads of the serving process",
    )
    processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="child processes applying batches (isolation=process), each with a fixed"
        " share of the units, so that a unit's messages are still applied in arrival order;"
        " more than one pays on PostgreSQL with cores to spare (SQLite has one writer)",
    )
    batch_size: int = Field(default=200, ge=1)
    linger_ms: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="how long a batch that is not full waits for more messages: a batch costs"
        " about as much CPU as 40 messages, so at moderate rates a few milliseconds' wait saves"
        " most of the coordinator's ingest CPU; 0 applies whatever has arrived at once",
    )
    dedup_retention_hours: int = Field(default=7 * 24, ge=1)
    dead_letter_retention_hours: int = Field(
        default=30 * 24,
        ge=1,
        description="how long a message set aside because applying it failed is kept for a"
        " coordinator to retry or discard (GET /api/ingest/dead-letters)",
    )
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    max_future_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="a telemetry message with a sample's source_time more than this ahead of"
        " the coordinator's clock is rejected (reason future_time); a job status, alarm or"
        " capacity message with an observed time (occurred_at/actual_start/actual_end,"
        " reported_at) that far ahead is kept with its times moved back to the receive time and"
        " counted (glonet_ingest_clock_skew_total), so that no message pins a latest value or a"
        " live state in the future; 0 turns the check off (simulated plants at a time scale)",
    )
    max_forecast_s: float = Field(
        default=31 * 24 * 3600.0,
        ge=0,
        description="a capacity report whose queue_free_at (a forecast) lies more than this"
        " ahead of the coordinator's clock is rejected (reason future_time); 0: no limit",
    )
    stall_after_s: float = Field(
        default=60.0,
        gt=0,
        description="/healthz says 'stalled' while the oldest message received and not yet"
        " acknowledged is older than this",
    )


class PricingSettings(BaseModel):
    """What the network adds to its members' lines when it prices a quote."""

    margin: float = Field(
        default=0.12,
        ge=0,
        le=10,
        description="the network's margin on members, materials, transport",
    )
    transport_per_km: float = Field(
        default=1.1,
        ge=0,
        description="cost of moving work between two plants, per road km (great-circle distance x "
        "the road detour factor)",
    )
    default_hourly_rate: float = Field(
        default=60.0,
        ge=0,
        description="per machine hour, for a member of a priced quote that has no rate at all",
    )


class OrdersSettings(BaseModel):
    """Co-design, quotes, planning and dispatch. Durations marked "plant time" run on the
    machines' clock, which the simulated demo network accelerates by ``time_scale``."""

    families_dir: Path = DEFAULT_FAMILIES_DIR
    dispatch_enabled: bool = True
    time_scale: float = Field(default=1.0, gt=0, description="plant seconds per real second")
    tick_interval_s: float = Field(default=1.0, gt=0, description="real seconds between ticks")
    plan_time_limit_s: float = Field(default=0.3, gt=0)
    horizon_s: float = Field(default=4 * 3600, gt=0, description="plant time ahead to dispatch")
    max_outstanding: int = Field(default=2, ge=1, description="dispatched, unfinished per machine")
    accept_timeout_s: float = Field(default=30.0, gt=0, description="real seconds to accept")
    refusal_retry_s: float = Field(
        default=2.0,
        gt=0,
        description="real seconds before an operation goes back to a machine that refused it"
        " (rejected, or did not accept in time) when no other machine can take it; doubled"
        " after each refusal in a row, up to refusal_retry_max_s",
    )
    refusal_retry_max_s: float = Field(default=300.0, gt=0, description="real seconds")
    late_tolerance_s: float = Field(default=1800.0, ge=0, description="plant time")
    down_estimate_s: float = Field(default=8 * 3600, gt=0, description="plant time")
    quote_validity_s: float = Field(default=2 * 86400, gt=0, description="plant time")
    promise_margin: float = Field(
        default=0.25,
        ge=0,
        description="risk buffer: fraction added to the planned lead time for what the plan "
        "cannot know (breakdowns, late deliveries, rework); durations are already each "
        "machine's own",
    )
    dispatch_overhead_s: float = Field(
        default=2.0, ge=0, description="real seconds an operation spends in dispatch and reports"
    )
    non_resumable_processes: list[str] = Field(
        default_factory=lambda: ["painting"],
        description="processes whose operations must fit in one open period of a plant's "
        "calendar (a cure cycle cannot pause over the night)",
    )
    calendar_horizon_s: float = Field(
        default=8 * 7 * 86400, gt=0, description="plant time of calendars the plan looks ahead"
    )
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    plant_clock_origin: datetime | None = Field(
        default=None,
        description="wall-clock instant at which the plants' clocks read the same as the wall "
        "clock; from there plant time runs time_scale times as fast (default: Monday "
        "5 January 2026 00:00 UTC)",
    )


class LedgerSettings(BaseModel):
    """After delivery: how an order's price is split (see :mod:`cloud.ledger`)."""

    network_fee: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="the share of an order's price the network keeps for its coordination; the"
        " rest is split among the members who made it",
    )


class ScorecardSettings(BaseModel):
    """Members' scorecards (see :mod:`cloud.scorecards`)."""

    period_days: int = Field(
        default=90, ge=1, le=3660, description="the scorecards' window: the last N days"
    )


class ContractTerms(BaseModel):
    """What a delivered product's service contract gives unless the coordinator changes it."""

    months: int = Field(default=24, ge=1, le=240, description="how long it runs from delivery")
    service_level: str = Field(default="standard", description="one of maintenance.service_levels")
    response_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 365,
        description="how soon after a service request a technician answers it (acknowledges)",
    )


class ProductSettings(BaseModel):
    """Delivered products and their service contracts."""

    contract: ContractTerms = Field(default_factory=ContractTerms)
    families: dict[str, ContractTerms] = Field(
        default_factory=dict, description="a product family's own terms (else ``contract``)"
    )
    service_unit: str | None = Field(
        default=None,
        description="the unit that services delivered products with no field gateway of their"
        " own (their tickets are its); default: the unit that made the product's last step",
    )

    def terms(self, family_id: str) -> ContractTerms:
        return self.families.get(family_id, self.contract)


class BusMode(StrEnum):
    AUTO = "auto"
    """On in a process that is one of several: an API-only ``serve`` (``ingest.enabled: false``),
    a ``glonet cloud ingest`` worker, or any process that shares the subscription
    (``mqtt.share_group``)."""
    ON = "on"
    OFF = "off"


class OutboxSettings(BaseModel):
    keep_sent_s: float = Field(
        default=3 * 24 * 3600.0,
        gt=0,
        description="how long a message the broker or a webhook acknowledged stays in the outbox"
        " (GET /api/outbox) before the outbox delivery prunes it; pending and failed messages"
        " are kept",
    )


class EventSettings(BaseModel):
    bus: BusMode = Field(
        default=BusMode.AUTO,
        description="share live events (the SSE stream's) with the other coordinator processes"
        " over the broker: auto = when this process is one of several",
    )


class Settings(BaseSettings):
    """Everything the coordinator process needs to know."""

    model_config = SettingsConfigDict(env_prefix="GLONET_", env_nested_delimiter="__")

    network: str = DEFAULT_NETWORK
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL (a secret: it may hold the password); default: SQLite file"
        " in data_dir",
    )
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are"
        " believed (e.g. 127.0.0.1, or * behind a load balancer); none by default, so a page"
        " session cookie is Secure only when this server itself is reached over HTTPS or a"
        " trusted proxy says so",
    )
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    orders: OrdersSettings = Field(default_factory=OrdersSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    scorecards: ScorecardSettings = Field(default_factory=ScorecardSettings)
    products: ProductSettings = Field(default_factory=ProductSettings)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'coordinator.sqlite'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables override the file, which arrives as init arguments.
        return env_settings, init_settings


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config_file`` (YAML or TOML), the environment and ``overrides``."""
    values: dict[str, Any] = _read_file(config_file) if config_file else {}
    values.update(overrides)
    return Settings(**values)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration {path}: {exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"configuration {path} is not valid: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"configuration {path} must be a mapping")
    return data
