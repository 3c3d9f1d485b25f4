"""The one exception tree of :mod:`firmware_sim`."""

from __future__ import annotations


class SimError(Exception):
    """Base of every error raised by the simulator."""


class PlantFileError(SimError):
    """A plant file cannot be read or does not describe a valid plant."""


class FaultSpecError(SimError):
    """A fault injection request names an unknown kind or machine, or has bad timing."""


class ServerError(SimError):
    """An OPC UA server could not be started, restarted or secured."""
