"""One OPC UA server per plant: every machine of the plant file is an object under ``Machines``.

The server owns the simulation loop (one tick per update interval steps every machine and
publishes the results), the job control and maintenance methods, and the server-level faults
(drop connections, hang, crash and restart on the same port).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from firmware_sim.address_space import NAMESPACE_URI, AddressSpace, MethodSpec
from firmware_sim.clock import SimClock
from firmware_sim.companion import load_companion_models
from firmware_sim.errors import FaultSpecError, ServerError, SimError
from firmware_sim.faults import SERVER_FAULTS, FaultKind, check_duration, parse_kind
from firmware_sim.hang import HangSwitch
from firmware_sim.job_control import JobReceiver, Structures
from firmware_sim.machine import SimMachine
from firmware_sim.plant import Plant, SecurityMode
from firmware_sim.security import CertificateHolders, TrustList, ensure_certificate

_LOGGER = logging.getLogger(__name__)

SECURITY_POLICIES = {
    SecurityMode.NONE: ua.SecurityPolicyType.NoSecurity,
    SecurityMode.SIGN: ua.SecurityPolicyType.Basic256Sha256_Sign,
    SecurityMode.SIGN_AND_ENCRYPT: ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}
DEFAULT_CERT_DIR = Path(tempfile.gettempdir()) / "glonet-sim-certs"
STRING, BOOLEAN, DOUBLE = ua.VariantType.String, ua.VariantType.Boolean, ua.VariantType.Double
# Server-level faults start after this delay, so the InjectFault call that asked for one
# still gets its answer.
METHOD_REPLY_GRACE_S = 0.1


@dataclass(frozen=True)
class ServerOptions:
    """How to run a plant; ``None`` means: as the plant file says."""

    time_scale: float = 1.0
    # Where the simulated clock meets the wall clock (the coordinator's plant_clock_origin);
    # None: it starts at the wall clock when the server starts.
    clock_origin: datetime | None = None
    seed: int = 0
    port: int | None = None
    update_interval_s: float | None = None
    security: SecurityMode | None = None
    cert_dir: Path = DEFAULT_CERT_DIR
    trusted_certs: tuple[Path, ...] = ()


class PlantServer:
    def __init__(self, plant: Plant, options: ServerOptions | None = None) -> None:
        self.plant = plant
        self.options = options or ServerOptions()
        self.clock = SimClock(self.options.time_scale, origin=self.options.clock_origin)
        now = self.clock.start
        self.machines = {
            spec.id: SimMachine(spec, seed=self.options.seed, now=now) for spec in plant.machines
        }
        self.port = self.options.port or plant.port
        self.security = self.options.security or plant.security
        self.update_interval_s = self.options.update_interval_s or plant.update_interval_s
        self._server: Server | None = None
        self._space: AddressSpace | None = None
        self._hang = HangSwitch()
        self._tick_task: asyncio.Task[None] | None = None
        self._fault_tasks: set[asyncio.Task[None]] = set()
        self._crashing = False
        self._extensions: list[Callable[[Server], Awaitable[None]]] = []

    def extend(self, build: Callable[[Server], Awaitable[None]]) -> None:
        """Add nodes of one's own (a vendor's variables in the conformance tests) to every
        address space this server builds, before it listens: after a restart too."""
        self._extensions.append(build)

    @property
    def endpoint(self) -> str:
        return self.plant.endpoint(self.port)

    @property
    def online(self) -> bool:
        return self._server is not None

    @property
    def opcua(self) -> Server | None:
        """The running asyncua server (None while down)."""
        return self._server

    # Life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._check_port()
        await self._start_opcua()
        self.clock.begin()
        self._tick_task = asyncio.create_task(self._run(), name=f"sim-{self.plant.unit}")

    async def stop(self) -> None:
        tasks = [t for t in (self._tick_task, *self._fault_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tick_task = None
        await self._stop_opcua()

    async def __aenter__(self) -> PlantServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _check_port(self) -> None:
        """Fail fast and clearly on a busy port, before seconds of building a server."""
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.plant.host, self.port))
            except OSError as exc:
                raise ServerError(f"cannot listen on {self.endpoint}: {exc.strerror}") from None

    async def _start_opcua(self) -> None:
        await self._listen(*await self._build())

    async def _build(self) -> tuple[Server, AddressSpace]:
        """A new asyncua server with the plant's address space, not listening yet."""
        secured = self.security is not SecurityMode.NONE
        server = Server(user_manager=CertificateHolders() if secured else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"GloNet simulated plant {self.plant.name}")
        await server.set_application_uri(f"urn:glonet:sim:{self.plant.unit}")
        await self._secure(server)
        models = await load_companion_models(server)
        idx = await server.register_namespace(NAMESPACE_URI)
        space = AddressSpace(server, idx, models, stamp=self.clock.wall)
        await space.build_root()
        structures = Structures.of(models)
        for machine in self.machines.values():
            receiver = self._receiver(machine, structures)
            await space.add_machine(machine, receiver, self._maintenance(machine))
        for build in self._extensions:
            await build(server)
        return server, space

    async def _listen(self, server: Server, space: AddressSpace) -> None:
        self._hang.attach(server)
        try:
            await server.start()
        except OSError as exc:
            raise ServerError(f"cannot listen on {self.endpoint}: {exc.strerror or exc}") from exc
        self._server, self._space = server, space
        _LOGGER.info(
            "plant %s: %d machine(s) at %s (security %s)",
            self.plant.unit,
            len(self.machines),
            self.endpoint,
            self.security,
        )

    async def _stop_opcua(self) -> None:
        self._space = None  # the simulation stops publishing at once
        if self._server is not None:
            self._hang.release()
            await self._server.stop()
            self._server = None

    async def _secure(self, server: Server) -> None:
        server.set_security_policy([SECURITY_POLICIES[self.security]])
        # Clients authenticate with their application certificate on the secure channel; no
        # user accounts, so the anonymous user token is the only one offered.
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        if self.security is SecurityMode.NONE:
            return
        app_uri = server.get_application_uri()
        cert, key = await ensure_certificate(self.options.cert_dir, self.plant.unit, app_uri)
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        if self.options.trusted_certs:
            server.set_certificate_validator(await TrustList.load(list(self.options.trusted_certs)))

    # Simulation loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        """Tick at a fixed rate; when a tick overruns, the next one starts at once."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            try:
                await self.tick()
            except Exception:  # a bug in one tick must not stop the plant
                _LOGGER.exception("plant %s: simulation tick failed", self.plant.unit)
            next_tick = max(next_tick + self.update_interval_s, loop.time())
            await asyncio.sleep(next_tick - loop.time())

    async def tick(self) -> None:
        """Step every machine to the current simulated time and publish what changed."""
        now = self.clock.now()
        for machine in self.machines.values():
            events = machine.step(now)
            space = self._space
            if space is None:
                continue  # crashed: the machine runs on, nobody can see it
            await space.publish(machine, now)
            for event in events:
                await space.fire(event)

    # Fault injection --------------------------------------------------------------------------

    async def inject(
        self, kind: FaultKind | str, duration_s: float, machine: str | None = None
    ) -> None:
        """Inject a fault into one machine, all machines, or the server (server-level kinds)."""
        kind = parse_kind(kind) if isinstance(kind, str) else kind
        duration_s = check_duration(duration_s)
        if kind in SERVER_FAULTS:
            await self._server_fault(kind, duration_s)
            return
        if machine is not None and machine not in self.machines:
            raise FaultSpecError(f"unknown machine {machine!r} in plant {self.plant.unit}")
        targets = [self.machines[machine]] if machine else list(self.machines.values())
        for target in targets:
            target.inject(kind, duration_s)

    async def _server_fault(self, kind: FaultKind, duration_s: float) -> None:
        if self._crashing:
            raise FaultSpecError(f"plant {self.plant.unit} is crashed already")
        _LOGGER.warning("plant %s: server fault %s for %.1f s", self.plant.unit, kind, duration_s)
        if kind is FaultKind.DISCONNECT:
            self._spawn(self._drop_connections())
        elif kind is FaultKind.HANG:
            self._hang.hang(duration_s)
        else:
            self._crashing = True
            self._spawn(self._crash(duration_s))

    async def _drop_connections(self) -> None:
        await asyncio.sleep(METHOD_REPLY_GRACE_S)
        self._hang.drop_connections()

    async def _crash(self, downtime_s: float) -> None:
        """Go away for ``downtime_s``; come back as a fresh server (sessions lost) on the same port.

        Building a server takes asyncua a few seconds (its standard address space), so the
        replacement is built during the downtime, which cannot be shorter than that.
        """
        try:
            await asyncio.sleep(METHOD_REPLY_GRACE_S)
            await self._stop_opcua()
            (server, space), _ = await asyncio.gather(self._build(), asyncio.sleep(downtime_s))
            # The machines ran on while the server was away: its first client must see their
            # state (job lists included), not the empty values of a fresh address space.
            now = self.clock.now()
            for machine in self.machines.values():
                await space.publish(machine, now)
            await self._listen(server, space)
            _LOGGER.warning("plant %s: server back after crash", self.plant.unit)
        except ServerError as exc:
            _LOGGER.error("plant %s stays down after crash: %s", self.plant.unit, exc)
        finally:
            self._crashing = False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._fault_tasks.add(task)
        task.add_done_callback(self._fault_tasks.discard)

    # Methods ----------------------------------------------------------------------------------

    def _receiver(self, machine: SimMachine, structures: Structures) -> JobReceiver | None:
        if machine.jobs is None:
            return None

        async def changed() -> None:
            if self._space is not None:
                await self._space.publish_jobs(machine, self.clock.now())

        return JobReceiver(
            machine.id, machine.jobs, structures, self.clock.now, changed, stamp=self.clock.wall
        )

    def _maintenance(self, machine: SimMachine) -> list[MethodSpec]:
        async def repair(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant]:
            machine.repair()
            return [ua.Variant(True, BOOLEAN)]

        async def inject_fault(parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant]:
            kind = args[0].Value if args else None
            duration = args[1].Value if len(args) > 1 else 0.0
            try:
                await self.inject(str(kind), duration, machine.id)
            except SimError as exc:
                _LOGGER.warning("%s: InjectFault refused: %s", machine.id, exc)
                return [ua.Variant(False, BOOLEAN)]
            return [ua.Variant(True, BOOLEAN)]

        return [
            MethodSpec("Repair", [], [("Repaired", BOOLEAN, "True when done")], repair),
            MethodSpec(
                "InjectFault",
                [
                    ("Kind", STRING, "Fault kind, see docs/machines.md"),
                    ("DurationS", DOUBLE, "Wall-clock seconds"),
                ],
                [("Injected", BOOLEAN, "False when the kind or duration is invalid")],
                inject_fault,
            ),
        ]
