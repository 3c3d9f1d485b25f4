"""The one exception tree of the gateway; third-party errors are translated into it."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises."""


class ConfigError(GatewayError):
    """The configuration file is missing, unreadable or invalid (the message names the key)."""


class OutboxError(GatewayError):
    """The SQLite outbox could not be opened or written."""


class BrokerError(GatewayError):
    """The MQTT link failed (connection refused, TLS error, publish on a dead link)."""


class BrokerAuthError(BrokerError):
    """The broker refused the gateway's credentials."""


class MachineError(GatewayError):
    """An OPC UA call on a machine failed or the machine is not connected."""


class CommandRejected(GatewayError):
    """A coordinator command the gateway refuses; ``reason`` is a stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
