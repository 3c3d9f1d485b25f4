"""The edge gateway: OPC UA machines → MQTT, with a crash-safe outbox, and dispatches back."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("glonet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
