"""Plant files: YAML describing one plant (or one fleet of field products) and its assets.

Validated with pydantic; every problem is reported as a :class:`PlantFileError` naming the file
and the offending field, never as a traceback. See docs/machines.md for the format.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from firmware_sim import machine_types, product  # noqa: F401  (register the asset profiles)
from firmware_sim.errors import PlantFileError, SimError
from firmware_sim.profiles import get_profile
from protocols.enums import ProcessKind
from protocols.errors import summarise
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
ParameterValue = bool | int | float | str | list[float] | list[int]
DEFAULT_UPDATE_INTERVAL_S = 0.5
DEFAULT_HOST = "127.0.0.1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    city: str = ""
    country: str = ""
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class SecurityMode(StrEnum):
    NONE = "none"
    SIGN = "sign"
    SIGN_AND_ENCRYPT = "sign_and_encrypt"


class Capability(_Strict):
    process: ProcessKind
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)


class MachineSpec(_Strict):
    id: Identifier
    type: str
    name: str = ""
    manufacturer: str = "GloNet Simulated Machines"
    model: str = ""
    serial_number: str = ""
    capabilities: list[Capability] = Field(default_factory=list)
    speed_factor: Annotated[float, Field(gt=0, le=100)] = 1.0
    max_job_orders: Annotated[int, Field(ge=1, le=1000)] = 10
    wear_rate_per_hour: Annotated[float, Field(gt=0)] | None = None
    initial_wear: Annotated[float, Field(ge=0, le=2)] = 0.0
    site: Location | None = None  # where a field product is installed
    customer: str = ""

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            get_profile(value)
        except SimError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def processes(self) -> frozenset[ProcessKind]:
        return frozenset(c.process for c in self.capabilities)


class Plant(_Strict):
    unit: Identifier
    name: str
    company: str = ""
    location: Location
    host: str = DEFAULT_HOST
    port: Annotated[int, Field(ge=1, le=65535)]
    update_interval_s: Annotated[float, Field(ge=0.01, le=60)] = DEFAULT_UPDATE_INTERVAL_S
    security: SecurityMode = SecurityMode.NONE
    machines: Annotated[list[MachineSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_machine_ids(self) -> Plant:
        seen: set[str] = set()
        for machine in self.machines:
            if machine.id in seen:
                raise ValueError(f"machine id {machine.id!r} is used twice")
            seen.add(machine.id)
        return self

    def endpoint(self, port: int | None = None) -> str:
        return f"opc.tcp://{self.host}:{port or self.port}/glonet/{self.unit}"


def parse_plant(data: Any, source: str = "<plant>") -> Plant:
    try:
        return Plant.model_validate(data)
    except ValidationError as exc:
        summary = summarise(exc, limit=10, whole="(top level)", more="... and {} more error(s)")
        raise PlantFileError(f"{source}: {summary}") from None


def load_plant(path: str | Path) -> Plant:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlantFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PlantFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PlantFileError(f"{path}: expected a mapping at the top level")
    return parse_plant(data, str(path))
