"""Walking an OPC UA server you have never seen: ``glonet edge browse``.

From a start node (``/0:Objects`` unless told), the walk follows hierarchical references down
to a depth limit and records objects (their type, whether they are event sources or
conditions), variables (data type, engineering units, description), and methods. Properties
are read for the units but not listed. Every browse name is written with a namespace prefix
derived from its namespace URI, so the paths can be pasted into a mapping, and
:func:`starting_mapping` turns the walk into a first mapping YAML to edit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, Node, ua

from edge.alarms import nsu
from edge.nodes import NETWORK_ERRORS, metric_name

DEFAULT_DEPTH = 6
MAX_NODES = 5000
_SERVER = ua.NodeId(ua.Int32(ua.ObjectIds.Server))
_CONDITION = ua.NodeId(ua.Int32(ua.ObjectIds.ConditionType))
_NUMERIC = {
    "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
    "Float", "Double", "Duration", "Number", "Integer", "UInteger",
}  # fmt: skip
_PREFIX_WORD = re.compile(r"[a-z][a-z0-9]*")
_NOT_A_NAME = re.compile(r"v\d+|\d+|http|https|urn|www|org|com")


@dataclass
class BrowsedNode:
    path: str
    """Browse path from the start node, ``prefix:Name`` segments joined by ``/``."""
    name: str
    node_id: str
    node_class: str
    type_name: str = ""
    """The type definition of an object, the data type of a variable."""
    unit: str = ""
    description: str = ""
    value_rank: int = -1
    event_source: bool = False
    condition: bool = False
    children: list[BrowsedNode] = field(default_factory=list)


@dataclass
class ServerMap:
    endpoint: str
    namespaces: list[str]
    prefixes: dict[int, str]
    start: str
    roots: list[BrowsedNode]
    truncated: bool = False

    def walk(self) -> Iterator[tuple[int, BrowsedNode]]:
        stack = [(0, node) for node in reversed(self.roots)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack += [(depth + 1, child) for child in reversed(node.children)]


def namespace_prefixes(namespaces: list[str]) -> dict[int, str]:
    """A short, unique prefix per namespace: ``http://opcfoundation.org/UA/DI/`` → ``di``."""
    prefixes = {0: "0"}
    for index, uri in enumerate(namespaces[1:], start=1):
        words = _PREFIX_WORD.findall(uri.lower().replace("opcfoundation.org/ua", ""))
        words = [w for w in words if not _NOT_A_NAME.fullmatch(w)]
        base = words[-1] if words else f"ns{index}"
        prefix, n = base, 2
        while prefix in prefixes.values():
            prefix, n = f"{base}{n}", n + 1
        prefixes[index] = prefix
    return prefixes


class Browser:
    def __init__(self, client: Client, namespaces: list[str], depth: int) -> None:
        self._client = client
        self._namespaces = namespaces
        self._prefixes = namespace_prefixes(namespaces)
        self._depth = depth
        self._type_names: dict[ua.NodeId, str] = {}
        self._conditions: dict[ua.NodeId, bool] = {}
        self._seen: set[ua.NodeId] = set()
        self.truncated = False

    def qualified(self, name: ua.QualifiedName) -> str:
        return f"{self._prefixes.get(name.NamespaceIndex, name.NamespaceIndex)}:{name.Name}"

    async def walk(self, start: Node, path: str, depth: int) -> list[BrowsedNode]:
        refs = await start.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
        found = []
        for ref in refs:
            node_id = ref.NodeId
            if node_id in self._seen or node_id == _SERVER:
                continue
            if len(self._seen) >= MAX_NODES:
                self.truncated = True
                break
            self._seen.add(node_id)
            child = await self._describe(
                ref, f"{path}/{self.qualified(ref.BrowseName)}".lstrip("/")
            )
            if child is None:
                continue
            if child.node_class == "Object" and depth < self._depth:
                child.children = await self.walk(
                    self._client.get_node(node_id), child.path, depth + 1
                )
            found.append(child)
        return found

    async def _describe(self, ref: ua.ReferenceDescription, path: str) -> BrowsedNode | None:
        node = self._client.get_node(ref.NodeId)
        described = BrowsedNode(
            path=path,
            name=ref.BrowseName.Name,
            node_id=nsu(ref.NodeId, self._namespaces),
            node_class=ref.NodeClass.name,
        )
        if ref.NodeClass is ua.NodeClass.Object:
            type_id = ref.TypeDefinition
            if type_id is not None and not type_id.is_null():
                described.type_name = await self._type_name(type_id)
                described.condition = await self._is_condition(type_id)
            notifier = await _read(node, ua.AttributeIds.EventNotifier)
            described.event_source = bool(isinstance(notifier, int) and notifier & 1)
        elif ref.NodeClass is ua.NodeClass.Variable:
            if ref.ReferenceTypeId == ua.NodeId(ua.Int32(ua.ObjectIds.HasProperty)):
                return None
            data_type = await _read(node, ua.AttributeIds.DataType)
            if isinstance(data_type, ua.NodeId):
                described.type_name = await self._type_name(data_type)
            rank = await _read(node, ua.AttributeIds.ValueRank)
            described.value_rank = rank if isinstance(rank, int) else -1
            description = await _read(node, ua.AttributeIds.Description)
            described.description = getattr(description, "Text", None) or ""
            described.unit = await self._unit(node)
        elif ref.NodeClass is not ua.NodeClass.Method:
            return None
        return described

    async def _type_name(self, node_id: ua.NodeId) -> str:
        if node_id not in self._type_names:
            name = await _read(self._client.get_node(node_id), ua.AttributeIds.BrowseName)
            self._type_names[node_id] = name.Name if isinstance(name, ua.QualifiedName) else ""
        return self._type_names[node_id]

    async def _is_condition(self, type_id: ua.NodeId) -> bool:
        """Whether an object's type is ConditionType or one of its subtypes."""
        if type_id not in self._conditions:
            current: ua.NodeId | None = type_id
            while current is not None and current != _CONDITION:
                refs = await self._client.get_node(current).get_references(
                    refs=ua.ObjectIds.HasSubtype, direction=ua.BrowseDirection.Inverse
                )
                current = refs[0].NodeId if refs else None
            self._conditions[type_id] = current == _CONDITION
        return self._conditions[type_id]

    async def _unit(self, node: Node) -> str:
        try:
            units = await node.get_child("0:EngineeringUnits")
        except NETWORK_ERRORS:
            return ""
        value = await _read(units, ua.AttributeIds.Value)
        display = getattr(value, "DisplayName", None)
        return getattr(display, "Text", None) or ""


async def _read(node: Node, attribute: ua.AttributeIds) -> Any:
    try:
        value = await node.read_attribute(attribute)
    except NETWORK_ERRORS:
        return None
    return value.Value.Value if value.Value is not None else None


async def browse_server(client: Client, start: Node, start_path: str, depth: int) -> ServerMap:
    namespaces = await client.get_namespace_array()
    browser = Browser(client, namespaces, depth)
    roots = await browser.walk(start, "", 1)
    return ServerMap(
        endpoint=client.server_url.geturl(),
        namespaces=namespaces,
        prefixes=namespace_prefixes(namespaces),
        start=start_path,
        roots=roots,
        truncated=browser.truncated,
    )


def render_tree(server: ServerMap) -> str:
    """One line per node, indented by depth."""
    lines = [f"# {server.endpoint}, from {server.start}"]
    lines += [f"#   {server.prefixes[i]}: {uri}" for i, uri in enumerate(server.namespaces)]
    for depth, node in server.walk():
        lines.append("  " * depth + _line(node))
    if server.truncated:
        lines.append(f"# stopped after {MAX_NODES} nodes: browse from a deeper --from")
    return "\n".join(lines)


def _line(node: BrowsedNode) -> str:
    name = node.path.rsplit("/", 1)[-1]
    if node.node_class == "Method":
        return f"{name}()  method"
    if node.node_class == "Variable":
        kind = node.type_name + ("[]" if node.value_rank >= 0 else "")
        extra = [
            f"[{node.unit}]" if node.unit else "",
            f'"{node.description}"' if node.description else "",
        ]
        return "  ".join(p for p in [f"{name}  {kind}", *extra, node.node_id] if p)
    marks = [
        node.type_name,
        "condition" if node.condition else "",
        "events" if node.event_source else "",
    ]
    return f"{name}  " + "  ".join(m for m in marks if m)


def machine_candidate(server: ServerMap) -> str | None:
    """The object holding the most numeric variables, the deepest one on a tie."""
    best: tuple[int, int, str] | None = None
    for depth, node in server.walk():
        if node.node_class == "Object" and not node.condition:
            count = len(_metrics(node))
            if count and (best is None or (count, depth) > best[:2]):
                best = (count, depth, node.path)
    return best[2] if best else None


def _metrics(machine: BrowsedNode) -> dict[str, dict[str, Any]]:
    metrics: dict[str, dict[str, Any]] = {}
    stack = list(machine.children)
    while stack:
        node = stack.pop(0)
        if node.condition:
            continue  # a condition's own variables (ActiveState, Severity…) are no metrics
        stack += node.children
        name = metric_name(node.name)
        if node.node_class != "Variable" or node.type_name not in _NUMERIC or node.value_rank >= 0:
            continue
        if name in metrics:
            continue
        metrics[name] = {"path": node.path.removeprefix(machine.path).lstrip("/")}
        if node.unit:
            metrics[name]["unit"] = node.unit[:32]
        if node.description:
            metrics[name]["description"] = node.description
    return metrics


def starting_mapping(server: ServerMap, root: str) -> dict[str, Any]:
    """A first mapping for the machine at browse path ``root`` (relative to the start node)."""
    machine = next((n for _, n in server.walk() if n.path == root), None)
    if machine is None:
        raise ValueError(f"{root!r} was not found in the walk")
    subtree = [n for _, n in ServerMap(server.endpoint, [], {}, "", [machine]).walk()]
    metrics = _metrics(machine)
    start = server.start.rstrip("/")
    paths = [f"{start}/{root}", *(m["path"] for m in metrics.values())]
    used = {seg.split(":", 1)[0] for path in paths for seg in path.strip("/").split("/")}
    mapping: dict[str, Any] = {
        "namespaces": {
            p: server.namespaces[i] for i, p in server.prefixes.items() if i and p in used
        },
        "root": f"{start}/{root}",
        "metrics": metrics,
    }
    if any(n.condition or n.event_source for n in subtree):
        mapping["alarms"] = {}
    return mapping
