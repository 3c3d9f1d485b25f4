"""Run plant servers in one process until asked to stop (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from firmware_sim.errors import SimError
from firmware_sim.faults import FaultSpec
from firmware_sim.plant import Plant
from firmware_sim.server import PlantServer, ServerOptions

_LOGGER = logging.getLogger(__name__)


async def serve(plants: list[Plant], options: ServerOptions, faults: list[FaultSpec]) -> None:
    """Start every plant, inject the scheduled faults, stop everything on SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    servers: list[PlantServer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for plant in plants:
            server = PlantServer(plant, options)
            await server.start()
            servers.append(server)
            _LOGGER.info("%s (%s): %s", plant.name, plant.unit, server.endpoint)
        tasks = [asyncio.create_task(_scheduled(servers, fault)) for fault in faults]
        _LOGGER.info(
            "simulating %s at time scale %g; Ctrl-C stops", _count(servers), options.time_scale
        )
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    _LOGGER.info("stopped")


async def _scheduled(servers: list[PlantServer], fault: FaultSpec) -> None:
    await asyncio.sleep(fault.after_s)
    for server in servers:
        if fault.machine is None or fault.machine in server.machines:
            try:
                await server.inject(fault.kind, fault.duration_s, fault.machine)
            except SimError as exc:
                _LOGGER.error("fault %s not injected: %s", fault.kind, exc)


def _count(servers: list[PlantServer]) -> str:
    machines = sum(len(s.machines) for s in servers)
    return f"{machines} machine(s) in {len(servers)} plant(s)"


def run(plants: list[Plant], options: ServerOptions, faults: list[FaultSpec]) -> int:
    if options.port is not None and len(plants) > 1:
        raise SimError("--port applies to a single plant file")
    machines = {m.id for plant in plants for m in plant.machines}
    for fault in faults:
        if fault.machine is not None and fault.machine not in machines:
            raise SimError(f"fault {fault.kind}: no machine {fault.machine!r} in the plant files")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(plants, options, faults))
    return 0
