"""The gateway's YAML configuration, validated by pydantic.

Every error names the file and the offending key (``gateway.yaml: invalid configuration`` then
``machines[0].mapping.metrics.power.deadband: ...``). Node mappings are data: every machine names a
built-in profile (``firmware-sim``), a mapping defined under ``mappings:`` in the same file, or
carries its own mapping inline (see ``docs/gateway.md``); there is no default mapping.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Self, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    FilePath,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.errors import ConfigError
from protocols.enums import MachineryItemState, MachineryOperationMode
from protocols.messages import Capability
from protocols.topics import IDENTIFIER_PATTERN, RESERVED_UNIT_IDS

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
PositiveFloat = Annotated[float, Field(gt=0)]
Jitter = Annotated[float, Field(ge=0, le=1)]
PROFILE_PACKAGE = "edge.profiles"
NODE_ID_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=")
M = TypeVar("M", bound=BaseModel)
Target = TypeVar("Target", MachineryItemState, MachineryOperationMode)
VendorValue = StrictBool | StrictInt | StrictStr
"""A vendor value a map translates: YAML ``true``, ``3`` or ``RUNNING``."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodePath(str):
    """A mapping path whose syntax was checked; its prefixes are checked against the mapping's
    ``namespaces`` once the whole mapping is known (:meth:`MachineMapping._prefixes_declared`)."""

    def prefixes(self) -> list[str]:
        """The namespace prefixes of a browse path's segments (none for a node id)."""
        if self.startswith(NODE_ID_PREFIXES) or self in ("", "."):
            return []
        return [segment.partition(":")[0] for segment in self.strip("/").split("/")]


def _node_path(path: str) -> NodePath:
    if path.startswith(NODE_ID_PREFIXES) or path in ("", "."):
        return NodePath(path)
    for segment in path.strip("/").split("/"):
        prefix, colon, name = segment.partition(":")
        if not (colon and prefix and name):
            raise ValueError(
                f"browse path {path!r}: segment {segment!r} needs a namespace prefix"
                " (prefix:BrowseName, with the prefix declared under namespaces: or 0:)"
            )
    return NodePath(path)


Path_ = Annotated[str, AfterValidator(_node_path)]
"""A browse path (``prefix:Name/prefix:Name``) or a node id (``ns=…``, ``nsu=…``, ``i=…``)."""


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


class BackoffConfig(Section):
    """Reconnection backoff: the delay doubles from ``reconnect_min_s`` up to
    ``reconnect_max_s``; each wait is shortened by a random fraction up to ``reconnect_jitter``
    so that many gateways do not reconnect in step."""

    reconnect_min_s: PositiveFloat = 1.0
    reconnect_max_s: PositiveFloat = 60.0
    reconnect_jitter: Jitter = 0.5

    @model_validator(mode="after")
    def _min_below_max(self) -> Self:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not be above reconnect_max_s")
        return self


class BrokerConfig(BackoffConfig):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30

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


class OpcUaConfig(BackoffConfig):
    """The OPC UA clients: reconnection backoff (after a lost or refused connection)."""

    reconnect_min_s: PositiveFloat = 0.5
    reconnect_max_s: PositiveFloat = 15.0


class TelemetryConfig(Section):
    publishing_interval_ms: PositiveFloat = 100.0
    batch_window_ms: PositiveFloat = 100.0
    max_batch_samples: Annotated[int, Field(ge=1, le=2000)] = 1000
    subscription_queue: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    """Notifications asyncua may hold for the gateway; past it the newest are dropped (counted)."""


class CapacityConfig(Section):
    heartbeat_s: PositiveFloat = 60.0
    free_at_tolerance_s: Annotated[float, Field(ge=0)] = 60.0


class JobsConfig(Section):
    progress_step: Annotated[float, Field(gt=0, le=1)] = 0.1


class HealthConfig(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8470


class MetricMapping(Section):
    path: Path_
    sampling_ms: Annotated[float, Field(ge=0)] = 250.0
    deadband: Annotated[float, Field(ge=0)] = 0.0
    unit: Annotated[str, Field(max_length=32)] = ""
    description: str = ""


class MetricsFolder(Section):
    """Every variable under ``path`` becomes a metric named after its browse name (snake_case)."""

    path: Path_
    sampling_ms: Annotated[float, Field(ge=0)] = 250.0
    deadband: Annotated[float, Field(ge=0)] = 0.0


class IdentificationMapping(Section):
    manufacturer: Path_ | None = None
    model: Path_ | None = None
    serial_number: Path_ | None = None
    asset_kind: Path_ | None = None
    capabilities: Path_ | None = None


class ValueMap(Section, Generic[Target]):
    """A vendor variable whose values translate to an OPC 40001-1 name, e.g.
    ``{path: acme:State, map: {RUNNING: Executing, IDLE: NotExecuting}}``."""

    path: Path_
    map: Annotated[dict[VendorValue, Target], Field(min_length=1)]


class DerivedRule(Section, Generic[Target]):
    """``when`` every named variable has the given value, the result is ``value``."""

    when: Annotated[dict[Identifier, VendorValue], Field(min_length=1)]
    value: Target


class DerivedValue(Section, Generic[Target]):
    """A value derived from a few vendor variables: the first rule that matches wins, else
    ``otherwise`` (an unmatched combination without ``otherwise`` is reported as unmapped)."""

    variables: Annotated[dict[Identifier, Path_], Field(min_length=1, max_length=16)]
    rules: Annotated[list[DerivedRule[Target]], Field(min_length=1)]
    otherwise: Target | None = None

    @model_validator(mode="after")
    def _rules_name_variables(self) -> Self:
        for index, rule in enumerate(self.rules):
            unknown = sorted(set(rule.when) - set(self.variables))
            if unknown:
                raise ValueError(
                    f"rules[{index}].when: unknown variable(s) {', '.join(unknown)}"
                    f" (declared: {', '.join(self.variables)})"
                )
        return self


def _source_form(value: Any) -> str:
    """Which form a ``state:``/``mode:`` entry has, so that an error speaks of that form only."""
    if isinstance(value, str):
        return "path-form"
    if isinstance(value, DerivedValue) or (isinstance(value, dict) and "variables" in value):
        return "derived-form"
    return "map-form"


StateSource = Annotated[
    Annotated[Path_, Tag("path-form")]
    | Annotated[ValueMap[MachineryItemState], Tag("map-form")]
    | Annotated[DerivedValue[MachineryItemState], Tag("derived-form")],
    Discriminator(_source_form),
]
ModeSource = Annotated[
    Annotated[Path_, Tag("path-form")]
    | Annotated[ValueMap[MachineryOperationMode], Tag("map-form")]
    | Annotated[DerivedValue[MachineryOperationMode], Tag("derived-form")],
    Discriminator(_source_form),
]


class JobsMapping(Section):
    """Standard job control: the job order receiver (OPC 10031-4 ISA95JobOrderReceiverObjectType
    with Store, StoreAndStart, Cancel … and JobOrderList) and, optionally, the job response
    provider holding JobOrderResponseList (OPC 40001-3 ``JobOrderResults``)."""

    profile: Literal["opc-10031-4"]
    receiver: Path_
    results: Path_ | None = None

    @model_validator(mode="before")
    @classmethod
    def _standard_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and "profile" not in data and "receiver" not in data:
            raise ValueError(
                "give profile: opc-10031-4 and receiver: PATH (the object/order_list/store keys"
                " of the old JSON job control are gone, see docs/gateway.md)"
            )
        return data


class AlarmsMapping(Section):
    """OPC UA Alarms & Conditions of a machine (``alarms: {}`` is enough for a compliant server).

    Events of ``event_type`` (by default every condition) are subscribed on ``source`` (by
    default the machine's root node; ``/0:Objects/0:Server`` for servers that report events
    only there). The standard fields need no configuration; the ``*_field`` keys name vendor
    event fields by browse path (``prefix:AlarmCode``) for servers that raise plain events.
    """

    event_type: Path_ = NodePath("i=2782")
    source: Path_ = NodePath("")
    code_field: str | None = None
    active_field: str | None = None
    metric_field: str | None = None
    value_field: str | None = None


class RepairMapping(Section):
    object: Path_
    method: Path_


class MachineMapping(Section):
    """Where a machine's data lives in an OPC UA address space.

    Paths are browse paths of ``prefix:BrowseName`` segments joined by ``/``, relative to the
    machine's ``root`` unless they start with ``/`` (then relative to the Root node); a path may
    also be a node id (``ns=3;s=Temp``, ``nsu=urn:vendor;i=42``). ``{machine}`` in ``root`` is
    replaced by the machine's ``node_name``. Prefixes are declared in ``namespaces`` by URI.

    ``state`` and ``mode`` are a path to a variable holding the OPC 40001-1 name, a
    :class:`ValueMap` of a vendor variable, or a :class:`DerivedValue` of a few variables.
    ``timestamps`` says which time a sample carries: the source's (the device's clock) or the
    server's.
    """

    namespaces: dict[str, str] = Field(default_factory=dict)
    root: Path_
    timestamps: Literal["source", "server"] = "source"
    identification: IdentificationMapping = IdentificationMapping()
    state: StateSource | None = None
    mode: ModeSource | None = None
    metrics: dict[Identifier, MetricMapping] = Field(default_factory=dict)
    metrics_folder: MetricsFolder | None = None
    jobs: JobsMapping | None = None
    repair: RepairMapping | None = None
    alarms: AlarmsMapping | None = None

    @model_validator(mode="after")
    def _prefixes_declared(self) -> Self:
        for key, path in _paths(self):
            for prefix in path.prefixes():
                if not prefix.isdigit() and prefix not in self.namespaces:
                    declared = ", ".join(sorted(self.namespaces)) or "none"
                    raise ValueError(
                        f"{key}: namespace prefix {prefix!r} of {str(path)!r} is not declared"
                        f" under namespaces: (declared: {declared})"
                    )
        return self


def _paths(value: Any, key: str = "") -> list[tuple[str, NodePath]]:
    """Every :class:`NodePath` in a mapping, with its key (``metrics.power.path``)."""
    if isinstance(value, NodePath):
        return [(key, value)]
    if isinstance(value, BaseModel):
        items: Any = ((name, getattr(value, name)) for name in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return []
    found = []
    for name, item in items:
        found += _paths(item, f"{key}.{name}" if key else str(name))
    return found


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
    mapping: str | MachineMapping
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
    opcua: OpcUaConfig = OpcUaConfig()
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
    source = f"edge/profiles/{name}.yaml"
    return _validate(MachineMapping, _yaml(text, source), source)


def parse_config(data: Any, source: str = "configuration") -> GatewayConfig:
    return _validate(GatewayConfig, data, source)


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway configuration file, or raise :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read the configuration: {reason}") from exc
    return parse_config(_yaml(text, str(path)), str(path))


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise ConfigError(f"{where}: not valid YAML: {detail}") from exc


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
        elif (
            part in ("function-after", "str", "MachineMapping")
            or "[" in part
            or part.endswith("-form")
        ):
            continue
        else:
            key += f".{part}" if key else part
    return key
