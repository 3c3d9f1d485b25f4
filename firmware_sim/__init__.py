"""Simulated shop-floor machines and field products, each plant a real OPC UA server.

``glonet sim PLANT.yaml`` runs plant files; in code::

    async with PlantServer(load_plant("glonet/demo/network/modena-machining.yaml")) as server:
        ...  # connect an OPC UA client to server.endpoint

The model (namespace, node ids, methods, events, units) is documented in docs/machines.md.
"""

from firmware_sim.address_space import NAMESPACE_URI
from firmware_sim.errors import FaultSpecError, PlantFileError, ServerError, SimError
from firmware_sim.faults import FaultKind
from firmware_sim.plant import Plant, load_plant, parse_plant
from firmware_sim.server import PlantServer, ServerOptions

__all__ = [
    "NAMESPACE_URI",
    "FaultKind",
    "FaultSpecError",
    "Plant",
    "PlantFileError",
    "PlantServer",
    "ServerError",
    "ServerOptions",
    "SimError",
    "load_plant",
    "parse_plant",
]
