"""The gateway's YAML configuration, validated by pydantic.

Every error names the offending key (``machines[0].mapping.metrics.power.deadband: ...``). Node
mappings are data: a machine names a built-in profile (``firmware-sim``), a mapping defined under
``mappings:`` in the same file, or carries its own mapping inline (see ``docs/gateway.md``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.errors import ConfigError
from protocols.messages import Capability
from protocols.topics import IDENTIFIER_PATTERN, RESERVED_UNIT_IDS

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
PositiveFloat = Annotated[float, Field(gt=0)]
DEFAULT_PROFILE = "firmware-sim"
PROFILE_PACKAGE = "edge.profiles"
M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(Section):
    ca: FilePath | None = None
    cert: FilePath | None = None
    key: FilePath | None = None
    verify: bool = True

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> Self:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key must be given together")
        return self


class BrokerConfig(Section):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_min_s: PositiveFloat = 1.0
    reconnect_max_s: PositiveFloat = 60.0

    @field_validator("url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        return url

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def uses_tls(self) -> bool:
        return self.tls is not None or urlsplit(self.url).scheme == "mqtts"


class BufferConfig(Section):
    path: Path = Path("var/edge/outbox.sqlite")
    quota_mb: PositiveFloat = 256.0
    replay_rate: PositiveFloat = 500.0
    max_inflight: Annotated[int, Field(ge=1, le=1000)] = 100
    coordinator_state_grace_s: Annotated[float, Field(gt=0, le=60)] = 2.0

    @property
    def quota_bytes(self) -> int:
        return int(self.quota_mb * 1024 * 1024)


class TelemetryConfig(Section):
    publishing_interval_ms: PositiveFloat = 100.0
    batch_window_ms: PositiveFloat = 100.0
    max_batch_samples: Annotated[int, Field(ge=1, le=2000)] = 1000


class CapacityConfig(Section):
    heartbeat_s: PositiveFloat = 60.0
    free_at_tolerance_s: Annotated[float, Field(ge=0)] = 60.0


class JobsConfig(Section):
    progress_step: Annotated[float, Field(gt=0, le=1)] = 0.1


class HealthConfig(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8470


class MetricMapping(Section):
    path: str
    sampling_ms: Annotated[float, Field(ge=0)] = 250.0
    deadband: Annotated[float, Field(ge=0)] = 0.0
    unit: Annotated[str, Field(max_length=32)] = ""
    description: str = ""


class MetricsFolder(Section):
    """Every variable under ``path`` becomes a metric named after its browse name (snake_case)."""

    path: str
    sampling_ms: Annotated[float, Field(ge=0)] = 250.0
    deadband: Annotated[float, Field(ge=0)] = 0.0


class IdentificationMapping(Section):
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    asset_kind: str | None = None
    capabilities: str | None = None


class JobsMapping(Section):
    """OPC 10031-4 job control: the object holding the methods, and its lists."""

    object: str
    order_list: str
    response_list: str | None = None
    max_job_orders: str | None = None
    store: str
    store_and_start: str
    cancel: str


class AlarmsMapping(Section):
    """OPC UA Alarms & Conditions of a machine (``alarms: {}`` is enough for a compliant server).

    Events of ``event_type`` (by default every condition) are subscribed on ``source`` (by
    default the machine's root node; ``/0:Objects/0:Server`` for servers that report events
    only there). The standard fields need no configuration; the ``*_field`` keys name vendor
    event fields by browse path (``prefix:AlarmCode``) for servers that raise plain events.
    """

    event_type: str = "i=2782"
    source: str = ""
    code_field: str | None = None
    active_field: str | None = None
    metric_field: str | None = None
    value_field: str | None = None


class RepairMapping(Section):
    object: str
    method: str


class MachineMapping(Section):
    """Where a machine's data lives in an OPC UA address space.

    Paths are browse paths of ``prefix:BrowseName`` segments joined by ``/``, relative to the
    machine's ``root`` unless they start with ``/`` (then relative to the Root node); a path may
    also be a node id (``ns=3;s=Temp``, ``nsu=urn:vendor;i=42``). ``{machine}`` in ``root`` is
    replaced by the machine's ``node_name``. Prefixes are declared in ``namespaces`` by URI.
    """

    namespaces: dict[str, str] = Field(default_factory=dict)
    root: str
    identification: IdentificationMapping = IdentificationMapping()
    state: str | None = None
    mode: str | None = None
    metrics: dict[Identifier, MetricMapping] = Field(default_factory=dict)
    metrics_folder: MetricsFolder | None = None
    jobs: JobsMapping | None = None
    repair: RepairMapping | None = None
    alarms: AlarmsMapping | None = None


class SecurityConfig(Section):
    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: FilePath | None = None
    private_key: FilePath | None = None
    server_certificate: FilePath | None = None
    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("policy and mode must both be None or both be set")
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError("a security policy needs certificate and private_key")
        return self

    @property
    def security_string(self) -> str | None:
        if self.policy == "None":
            return None
        parts = [self.policy, self.mode, str(self.certificate), str(self.private_key)]
        if self.server_certificate is not None:
            parts.append(str(self.server_certificate))
        return ",".join(parts)


class MachineConfig(Section):
    id: Identifier
    endpoint: str
    name: str | None = None
    node_name: str | None = None
    mapping: str | MachineMapping = DEFAULT_PROFILE
    security: SecurityConfig = SecurityConfig()
    capabilities: list[Capability] = Field(default_factory=list)

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, endpoint: str) -> str:
        if not endpoint.startswith("opc.tcp://"):
            raise ValueError("must start with opc.tcp://")
        return endpoint

    @property
    def browse_name(self) -> str:
        return self.node_name or self.id


class RuleConfig(Section):
    """A threshold on a metric, held ``min_duration_s`` before raising, cleared at ``clear_at``."""

    name: Identifier
    machine: Identifier
    metric: Identifier
    above: float | None = None
    below: float | None = None
    clear_at: float
    min_duration_s: Annotated[float, Field(ge=0)] = 0.0
    severity: Annotated[int, Field(ge=1, le=1000)] = 500
    code: Identifier
    text: str = ""

    @model_validator(mode="after")
    def _one_threshold_with_hysteresis(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.above is not None and self.clear_at > self.above:
            raise ValueError("clear_at must not be above the 'above' threshold")
        if self.below is not None and self.clear_at < self.below:
            raise ValueError("clear_at must not be below the 'below' threshold")
        return self


class GatewayConfig(Section):
    network: Identifier
    unit: Identifier
    broker: BrokerConfig = BrokerConfig()
    buffer: BufferConfig = BufferConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    capacity: CapacityConfig = CapacityConfig()
    jobs: JobsConfig = JobsConfig()
    health: HealthConfig = HealthConfig()
    mappings: dict[str, MachineMapping] = Field(default_factory=dict)
    machines: Annotated[list[MachineConfig], Field(min_length=1)]
    rules: list[RuleConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        if self.unit in RESERVED_UNIT_IDS:
            raise ValueError(f"unit: {self.unit!r} is reserved")
        ids = [machine.id for machine in self.machines]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"machines: duplicate id(s) {', '.join(duplicates)}")
        for index, machine in enumerate(self.machines):
            known = {*self.mappings, *builtin_profiles()}
            if isinstance(machine.mapping, str) and machine.mapping not in known:
                raise ValueError(
                    f"machines[{index}].mapping: unknown mapping {machine.mapping!r}"
                    f" (known: {', '.join(sorted(known))})"
                )
        for index, rule in enumerate(self.rules):
            if rule.machine not in ids:
                raise ValueError(f"rules[{index}].machine: unknown machine {rule.machine!r}")
        return self

    @property
    def client_id(self) -> str:
        return self.broker.client_id or f"glonet-edge-{self.network}-{self.unit}"

    def mapping_for(self, machine: MachineConfig) -> MachineMapping:
        if isinstance(machine.mapping, MachineMapping):
            return machine.mapping
        if machine.mapping in self.mappings:
            return self.mappings[machine.mapping]
        return load_profile(machine.mapping)


def builtin_profiles() -> set[str]:
    entries = resources.files(PROFILE_PACKAGE).iterdir()
    return {e.name.removesuffix(".yaml") for e in entries if e.name.endswith(".yaml")}


def load_profile(name: str) -> MachineMapping:
    """A mapping profile shipped with the gateway (``edge/profiles/{name}.yaml``)."""
    text = resources.files(PROFILE_PACKAGE).joinpath(f"{name}.yaml").read_text()
    return _validate(MachineMapping, yaml.safe_load(text), f"profile {name}")


def parse_config(data: Any, source: str = "configuration") -> GatewayConfig:
    return _validate(GatewayConfig, data, source)


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway configuration file, or raise :class:`ConfigError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, str(path))


def _validate(model: type[M], data: Any, source: str) -> M:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid configuration\n{_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = _key(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {message}" if key else f"  {message}")
    return "\n".join(lines)


def _key(location: tuple[int | str, ...]) -> str:
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part in ("function-after", "str", "MachineMapping") or "[" in part:
            continue
        else:
            key += f".{part}" if key else part
    return key
