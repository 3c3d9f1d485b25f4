"""Resolving the node paths of a mapping against one OPC UA server.

A path is either a node id (``ns=3;s=Temp``, ``nsu=urn:vendor;i=42``, ``i=2253``) or a browse
path of ``prefix:BrowseName`` segments joined by ``/``, relative to the machine's root node, or to
the Root node when it starts with ``/``. Prefixes are declared by namespace URI in the mapping, so
a mapping does not depend on namespace indexes, which a server may assign differently on restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from asyncua import Client, Node, ua
from asyncua.ua.uaerrors import UaError

from edge.errors import MachineError

NODE_ID_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=")
NETWORK_ERRORS = (UaError, OSError, TimeoutError, ConnectionError)
"""What an OPC UA request may raise when the server or the network misbehaves."""
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class NodeResolver:
    """Turns mapping paths into nodes; namespace prefixes are looked up once per connection."""

    def __init__(self, client: Client, namespace_array: list[str], prefixes: Mapping[str, str]):
        self._client = client
        self._namespaces = namespace_array
        self._prefixes = prefixes

    def _index(self, prefix: str) -> int:
        if prefix.isdigit():
            return int(prefix)
        uri = self._prefixes.get(prefix)
        if uri is None:
            raise MachineError(f"namespace prefix {prefix!r} is not declared in the mapping")
        if uri not in self._namespaces:
            raise MachineError(f"the server has no namespace {uri!r}")
        return self._namespaces.index(uri)

    def qualified(self, segment: str) -> ua.QualifiedName:
        """``prefix:Name`` → the QualifiedName with this server's namespace index."""
        prefix, sep, name = segment.partition(":")
        if not sep:
            raise MachineError(f"browse path segment {segment!r} needs a namespace prefix")
        return ua.QualifiedName(name, self._index(prefix))

    def _node_id(self, text: str) -> ua.NodeId:
        if text.startswith("nsu="):
            uri, _, rest = text[4:].partition(";")
            if uri not in self._namespaces:
                raise MachineError(f"the server has no namespace {uri!r}")
            text = f"ns={self._namespaces.index(uri)};{rest}"
        try:
            return ua.NodeId.from_string(text)
        except (ValueError, UaError) as exc:
            raise MachineError(f"malformed node id {text!r}") from exc

    async def resolve(self, path: str, base: Node | None) -> Node:
        """The node at ``path``; raises :class:`MachineError` naming the path when missing."""
        if path.startswith(NODE_ID_PREFIXES):
            return self._client.get_node(self._node_id(path))
        if path in ("", "."):
            if base is None:
                raise MachineError("an empty path needs a machine root")
            return base
        start = self._client.nodes.root if path.startswith("/") or base is None else base
        segments = [self.qualified(s) for s in path.strip("/").split("/")]
        try:
            return await start.get_child(segments)
        except (UaError, OSError, TimeoutError) as exc:
            raise MachineError(f"no node at {path!r}: {exc}") from exc


def metric_name(browse_name: str) -> str:
    """``SpindleTemperature`` → ``spindle_temperature``."""
    return _CAMEL.sub("_", browse_name).replace(" ", "_").lower()
