"""The contract between edge gateways and the coordinator: topics, messages, codec.

Only this package knows topic strings and payload shapes; everything else calls
``topics.telemetry(network, unit, machine)`` and ``codec.decode(...)``.
"""

from protocols import codec, enums, messages, topics
from protocols.errors import ProtocolError, RejectReason
from protocols.messages import PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_VERSION",
    "ProtocolError",
    "RejectReason",
    "codec",
    "enums",
    "messages",
    "topics",
]
