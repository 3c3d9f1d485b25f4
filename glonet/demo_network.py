"""Run a whole GloNet network on this machine: broker, simulated plants, gateways, coordinator.

Every part is a real process started the way an operator would (``glonet sim``, ``glonet edge``,
``glonet cloud serve``), each in its own session so that Ctrl-C reaches only the caller, which
then stops them in order: coordinator, gateways, plants, broker. ``glonet demo`` and the loop
test share this module.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from cloud.auth.models import PersonCreate, PrincipalCreate, Role
from cloud.bootstrap import NetworkCredentials, NetworkSetup, bootstrap_network
from cloud.config import ContractTerms, load_settings
from cloud.maintenance.config import DEFAULT_SERVICE_LEVELS, ServiceLevelSettings
from cloud.products.models import FieldAssetSet
from cloud.registry.models import (
    SPEED_FACTOR,
    MachineCreate,
    OperatorSet,
    PlantCalendarSet,
    SharingPolicy,
    TechnicianCreate,
    UnitCreate,
    WorkingHours,
)
from cloud.suppliers.models import SupplierCreate
from firmware_sim.address_space import NAMESPACE_URI
from firmware_sim.plant import Plant, load_plant
from firmware_sim.profiles import AssetKind, get_profile
from glonet.broker import MosquittoBroker, free_port, wait_for_port

_LOGGER = logging.getLogger(__name__)
COORDINATOR_KEY = "Network coordinator"
STOP_TIMEOUT = 10.0
# Seven OPC UA servers built at once on a busy 2-core machine took over 30 s to listen.
START_TIMEOUT = 90.0


class DemoError(RuntimeError):
    """The demo network could not be started."""


class DemoOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: str
    family: str
    title: str
    values: dict[str, Any] = Field(default_factory=dict)
    engineer_changes: dict[str, Any] = Field(default_factory=dict)
    engineer_comment: str = ""
    # What the product is installed as at the customer's site (a field product of the spec's
    # plant files): the demo delivers the order with it. None: no field gateway reports it.
    field_asset: FieldAssetSet | None = None


class DemoAnswer(BaseModel):
    """A member's scripted answer to an invitation: its price and the days (from now) it needs
    to finish its share, or a decline with its reason."""

    model_config = ConfigDict(extra="forbid")

    price: Annotated[float, Field(gt=0)] | None = None
    days: Annotated[float, Field(gt=0)] = 3.0
    decline: str | None = None


class DemoOpportunity(BaseModel):
    """An opportunity for a public customer: its configured product, the delivery site and
    local-content rule, and how the invited members answer (step -> unit -> answer)."""

    model_config = ConfigDict(extra="forbid")

    customer: str
    family: str
    title: str
    values: dict[str, Any] = Field(default_factory=dict)
    site: dict[str, Any]
    due_days: Annotated[float, Field(gt=0)] = 30.0
    local_content: dict[str, Any] | None = None
    terms: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, dict[str, DemoAnswer]]
    field_asset: FieldAssetSet | None = None


class Breakdown(BaseModel):
    """Break the first of ``machines`` of ``unit`` that runs an order's operation; repair later."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    machines: list[str]
    repair_after_s: Annotated[float, Field(gt=0)] = 60.0


class DemoTechnician(BaseModel):
    """A field technician employed by a member unit; the demo acts as them on their tickets."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    unit: str
    skills: list[str]
    latitude: float
    longitude: float


class DemoSpec(BaseModel):
    """What the demo runs (``glonet/demo/demo.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    network: str = "glonet-demo"
    plants: list[Path]
    # None: the coordinator's (orders.families_dir, by default the families it ships with).
    families_dir: Path | None = None
    time_scale: Annotated[float, Field(gt=0)] = 1200.0
    certifications: dict[str, list[str]] = Field(default_factory=dict)
    calendars: dict[str, PlantCalendarSet] = Field(default_factory=dict)
    # Per member, its operators by id: skills the family data's steps ask for, weekly roster.
    operators: dict[str, dict[str, OperatorSet]] = Field(default_factory=dict)
    orders: list[DemoOrder] = Field(default_factory=list)
    # One opportunity formed by a consortium of members (and local suppliers), won and made.
    opportunity: DemoOpportunity | None = None
    technicians: list[DemoTechnician] = Field(default_factory=list)
    # The network's suppliers and what they offer (local ones near the customers' sites).
    suppliers: list[SupplierCreate] = Field(default_factory=list)
    breakdown: Breakdown | None = None
    coordinator: dict[str, Any] = Field(
        default_factory=dict, description="extra coordinator settings (e.g. orders.*)"
    )


def load_spec(path: Path) -> DemoSpec:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DemoError(f"cannot read {path}: {exc}") from exc
    spec = DemoSpec.model_validate(data)
    base = path.parent
    spec.plants = [p if p.is_absolute() else (base / p).resolve() for p in spec.plants]
    if spec.families_dir is not None and not spec.families_dir.is_absolute():
        spec.families_dir = (base / spec.families_dir).resolve()
    return spec


@dataclass
class ManagedProcess:
    """A child process in its own session, with its output in a log file."""

    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        _LOGGER.debug("started %s (pid %d)", self.name, self.process.pid)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def interrupt(self) -> None:
        """SIGINT: a clean Ctrl-C for our commands."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then SIGKILL."""
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _LOGGER.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        stop_together([self], timeout)


def stop_together(processes: list[ManagedProcess], timeout: float = STOP_TIMEOUT) -> None:
    """Interrupt all at once, then wait for all: stopping takes the slowest one's time."""
    for process in processes:
        process.interrupt()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.wait(deadline)


def glonet_command(*args: str, log_level: str = "WARNING") -> list[str]:
    return [sys.executable, "-m", "glonet", "--log-level", log_level, *args]


def gateway_config(
    plant: Plant, *, network: str, broker: MosquittoBroker, workdir: Path
) -> dict[str, Any]:
    """The edge configuration of one simulated plant's gateway."""
    return {
        "network": network,
        "unit": plant.unit,
        "broker": {"url": broker.url, "client_id": f"gw-{plant.unit}"},
        "buffer": {"path": str(workdir / "edge" / plant.unit / "outbox.sqlite")},
        "health": {"port": free_port()},
        "machines": gateway_machines(plant),
    }


def gateway_machines(plant: Plant) -> list[dict[str, str]]:
    """The gateway's machines of a simulated plant, each with the built-in mapping of its kind
    (a gateway has no default mapping)."""
    return [
        {"id": m.id, "endpoint": plant.endpoint(), "mapping": _sim_mapping(m.type)}
        for m in plant.machines
    ]


def _sim_mapping(asset_type: str) -> str:
    product = get_profile(asset_type).kind is AssetKind.PRODUCT
    return "firmware-sim-product" if product else "firmware-sim"


@dataclass
class PlantNetwork:
    """The plants' side: a private broker, one simulator and one gateway per plant."""

    workdir: Path
    plant_files: list[Path]
    network: str
    time_scale: float
    seed: int = 1
    broker: MosquittoBroker = field(init=False)
    plants: list[Plant] = field(init=False)
    simulators: list[ManagedProcess] = field(default_factory=list, init=False)
    gateways: list[ManagedProcess] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.plants = [load_plant(path) for path in self.plant_files]
        self.broker = MosquittoBroker(self.workdir / "mosquitto")

    @property
    def processes(self) -> list[ManagedProcess]:
        return [*self.simulators, *self.gateways]

    def start(self, clock_origin: datetime | None = None) -> None:
        """Start the broker, the simulators and the gateways. ``clock_origin``: the
        coordinator's ``orders.plant_clock_origin``, so the simulated plants read its plant
        time (their shifts are the calendars' the plan uses); None: they start at the wall
        clock."""
        (self.workdir / "mosquitto").mkdir(parents=True, exist_ok=True)
        self.broker.start()
        origin = [] if clock_origin is None else ["--clock-origin", clock_origin.isoformat()]
        for path, plant in zip(self.plant_files, self.plants, strict=True):
            simulator = ManagedProcess(
                f"plant {plant.unit}",
                glonet_command(
                    "sim",
                    str(path),
                    "--time-scale",
                    str(self.time_scale),
                    "--seed",
                    str(self.seed),
                    *origin,
                ),
                self.workdir / "logs" / f"plant-{plant.unit}.log",
            )
            simulator.start()
            self.simulators.append(simulator)
        for plant in self.plants:
            if not wait_for_port(plant.host, plant.port, START_TIMEOUT):
                raise DemoError(f"plant {plant.unit} did not open port {plant.port}")
        for plant in self.plants:
            self._start_gateway(plant)

    def _start_gateway(self, plant: Plant) -> None:
        config = gateway_config(
            plant, network=self.network, broker=self.broker, workdir=self.workdir
        )
        path = self.workdir / "gateways" / f"{plant.unit}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        gateway = ManagedProcess(
            f"gateway {plant.unit}",
            glonet_command("edge", str(path)),
            self.workdir / "logs" / f"gateway-{plant.unit}.log",
        )
        gateway.start()
        self.gateways.append(gateway)

    def stop(self) -> None:
        """Gateways first, then the plants (each group all at once), then the broker."""
        stop_together(self.gateways)
        stop_together(self.simulators)
        self.gateways.clear()
        self.simulators.clear()
        self.broker.stop()

    def dead(self) -> list[str]:
        return [p.name for p in self.processes if not p.running]


@dataclass
class Coordinator:
    """``glonet cloud serve`` on a prepared database, with its settings file."""

    workdir: Path
    settings: dict[str, Any]
    process: ManagedProcess = field(init=False)

    def __post_init__(self) -> None:
        path = self.workdir / "coordinator.yaml"
        path.write_text(yaml.safe_dump(self.settings, sort_keys=False))
        self.process = ManagedProcess(
            "coordinator",
            glonet_command("cloud", "serve", "--config", str(path), log_level="INFO"),
            self.workdir / "logs" / "coordinator.log",
        )

    @property
    def url(self) -> str:
        return f"http://{self.settings['listen_host']}:{self.settings['listen_port']}"

    def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not wait_for_port(self.settings["listen_host"], self.settings["listen_port"], 0.5):
            if not self.process.running or time.monotonic() > deadline:
                raise DemoError(f"the coordinator did not start; see {self.process.log_path}")

    def stop(self) -> None:
        self.process.stop()


def coordinator_settings(
    spec: DemoSpec, *, workdir: Path, mqtt_host: str, mqtt_port: int, port: int
) -> dict[str, Any]:
    """The coordinator's settings file; ``spec.coordinator`` entries override or extend it."""
    settings: dict[str, Any] = {
        "network": spec.network,
        "data_dir": str(workdir / "coordinator"),
        "listen_host": "127.0.0.1",
        "listen_port": port,
        "mqtt": {"host": mqtt_host, "port": mqtt_port, "client_id": "glonet-coordinator"},
        "orders": {
            "time_scale": spec.time_scale,
            "plant_clock_origin": plant_clock_origin(datetime.now(UTC), spec.time_scale),
        },
    }
    if spec.families_dir is not None:
        settings["orders"]["families_dir"] = str(spec.families_dir)
    if spec.time_scale != 1:
        # The simulated plants stamp what they report with the wall clock (docs/machines.md,
        # "Time"), so the ingest's future-time check stays on; a capacity report's queue_free_at
        # still counts the queue's planned plant seconds, a forecast time_scale times too far.
        settings["ingest"] = {"max_forecast_s": 0}
        settings["maintenance"] = {"service_levels": demo_service_levels(spec.time_scale)}
        settings["products"] = {"contract": demo_contract_terms(spec.time_scale)}
    for key, value in spec.coordinator.items():
        if isinstance(value, dict):
            settings.setdefault(key, {}).update(value)
        else:
            settings[key] = value
    return settings


def demo_service_levels(time_scale: float) -> dict[str, Any]:
    """The default service levels with their times to resolve compressed by ``time_scale``, as
    the simulated plants compress their work: a P1 ticket's 8 hours are 24 s at 1200x."""
    levels = {}
    for name, level in DEFAULT_SERVICE_LEVELS.items():
        settings = ServiceLevelSettings.of(level)
        due = {priority: hours / time_scale for priority, hours in settings.due_hours.items()}
        levels[name] = {"due_hours": due, "priority_shift": settings.priority_shift}
    return levels


def demo_contract_terms(time_scale: float) -> dict[str, Any]:
    """The default service contract with its response time compressed by ``time_scale``, as
    :func:`demo_service_levels` compresses the tickets' times: 8 hours are 24 s at 1200x. Its
    term (months from delivery) stays on the calendar: it is what the customer bought."""
    terms = ContractTerms()
    return {**terms.model_dump(), "response_hours": terms.response_hours / time_scale}


def plant_clock_origin(now: datetime, time_scale: float) -> datetime:
    """Where the accelerated plant clock meets the wall clock so that it reads ``now`` as the
    last Monday at 05:00 UTC (the start of a working week in Italy): the demo starts with the
    plants open. With plant = origin + (wall - origin) * scale, solved for plant(now) = Monday."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = midnight - timedelta(days=now.weekday()) + timedelta(hours=5)
    if monday > now:
        monday -= timedelta(days=7)
    if time_scale == 1:
        return now
    return now + (monday - now) / (1 - time_scale)


def technician_key(technician_id: str) -> str:
    """The name under which the demo keeps (and prints) a technician's API key."""
    return f"Technician {technician_id}"


def network_setup(
    spec: DemoSpec, plants: list[Plant], *, people: bool = False, broker_logins: bool = False
) -> NetworkSetup:
    """The demo's registry as the coordinator's bootstrap takes it: the plants (with each
    simulated machine's speed, as a plant would give it for its real machines), calendars,
    operators and technicians, an API key per role and scope, and with ``people`` one person
    per role."""
    check_field_assets(spec, plants)
    # The demo runs at any hour and compresses days into minutes: its technicians never sleep.
    round_the_clock = [WorkingHours(weekday=day, start="00:00", end="23:59") for day in range(7)]
    # In the spec's order: the first order's customer is the demo's customer person.
    customers = list(dict.fromkeys(order.customer for order in spec.orders))
    if spec.opportunity is not None and spec.opportunity.customer not in customers:
        customers.append(spec.opportunity.customer)
    return NetworkSetup(
        units=[
            UnitCreate(
                id=plant.unit,
                network_id=spec.network,
                company=plant.company or plant.name,
                site=plant.location.city,
                country=plant.location.country or None,
                latitude=plant.location.lat,
                longitude=plant.location.lon,
                certifications=spec.certifications.get(plant.unit, []),
                # The demo's plants show their machines' telemetry to the network.
                sharing_policy=SharingPolicy(share_telemetry=True),
            )
            for plant in plants
        ],
        calendars=spec.calendars,
        operators=spec.operators,
        suppliers=spec.suppliers,
        machines={
            plant.unit: [
                MachineCreate(
                    machine=machine.id,
                    name=machine.name or machine.id,
                    static_data=(
                        {SPEED_FACTOR: machine.speed_factor}
                        if get_profile(machine.type).kind is AssetKind.MACHINE
                        else {}
                    ),
                )
                for machine in plant.machines
            ]
            for plant in plants
        },
        technicians=[
            TechnicianCreate(
                id=tech.id,
                employer_unit_id=tech.unit,
                name=tech.name,
                skills=tech.skills,
                home_latitude=tech.latitude,
                home_longitude=tech.longitude,
                working_hours=round_the_clock,
            )
            for tech in spec.technicians
        ],
        principals=[
            PrincipalCreate(name=COORDINATOR_KEY, role=Role.COORDINATOR),
            *(
                PrincipalCreate(name=f"Customer {c}", role=Role.CUSTOMER, customer_id=c)
                for c in customers
            ),
            *(
                PrincipalCreate(name=f"Plant {p.unit}", role=Role.PLANT, unit_id=p.unit)
                for p in plants
            ),
            *(
                PrincipalCreate(name=technician_key(t.id), role=Role.TECHNICIAN, technician_id=t.id)
                for t in spec.technicians
            ),
        ],
        people=demo_people(spec, plants, customers) if people else [],
        broker_logins=broker_logins,
    )


def check_field_assets(spec: DemoSpec, plants: list[Plant]) -> None:
    """Every order's field asset is a field product of the spec's plant files, each named once
    (a controller reports one product)."""
    products = {
        (plant.unit, machine.id)
        for plant in plants
        for machine in plant.machines
        if get_profile(machine.type).kind is AssetKind.PRODUCT
    }
    seen: set[tuple[str, str]] = set()
    for order in (*spec.orders, spec.opportunity):
        asset = None if order is None else order.field_asset
        if asset is None:
            continue
        key, where = (asset.unit_id, asset.asset), f"field asset {asset.unit_id}/{asset.asset}"
        if key not in products:
            raise DemoError(f"{where} is no field product of the plant files")
        if key in seen:
            raise DemoError(f"{where} is named by two orders")
        seen.add(key)


def demo_people(spec: DemoSpec, plants: list[Plant], customers: list[str]) -> list[PersonCreate]:
    """One person per role, signing in with a username and a password made for this run."""
    return [
        PersonCreate(name="Cora Coordinator", username="coordinator", role=Role.COORDINATOR),
        PersonCreate(
            name=f"Plant engineer {plants[0].unit}",
            username="plant",
            role=Role.PLANT,
            unit_id=plants[0].unit,
        ),
        PersonCreate(
            name=f"Customer {customers[0]}",
            username="customer",
            role=Role.CUSTOMER,
            customer_id=customers[0],
        ),
        PersonCreate(
            name=f"Technician {spec.technicians[0].name}",
            username="technician",
            role=Role.TECHNICIAN,
            technician_id=spec.technicians[0].id,
        ),
    ]


def prepare_network(settings: dict[str, Any], setup: NetworkSetup) -> NetworkCredentials:
    """Onboard the demo into the coordinator's database (:func:`cloud.bootstrap.bootstrap_network`)
    before the coordinator starts, so that it knows every plant whose gateway is already there."""
    return bootstrap_network(load_settings(None, **settings), setup)


async def call_maintenance(endpoint: str, machine: str, method: str, *args: Any) -> Any:
    """Call a simulated machine's maintenance method (``InjectFault``, ``Repair``) over OPC UA."""
    from asyncua import Client

    async with Client(endpoint, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        maintenance = await client.nodes.objects.get_child(
            [f"{ns}:Machines", f"{ns}:{machine}", f"{ns}:Maintenance"]
        )
        return await maintenance.call_method(f"{ns}:{method}", *args)
