"""Vendor values to OPC 40001-1 names: a machine's state and operation mode as its server has them.

A mapping's ``state:`` (and ``mode:``) is one of three forms (see :mod:`edge.config`): a path to a
variable that holds the standard name, a value map of a vendor variable
(``{RUNNING: Executing, IDLE: NotExecuting}``), or a value derived from a few variables (a running
flag and a fault flag). A :class:`VendorTranslation` turns the values as they arrive into the
standard name, or says that a value is not mapped, with the value, so that the gateway reports it
rather than leaving the machine ``NotAvailable`` without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from edge.config import DerivedValue, ValueMap

Target = TypeVar("Target", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A vendor value (or combination of values) the mapping does not translate."""

    value: str


def vendor_value(value: Any) -> Any:
    """The comparable value of an OPC UA value: a LocalizedText's text, an enum's number."""
    text = getattr(value, "Text", None)
    if text is not None:
        return text
    return value


class VendorTranslation(Generic[Target]):
    """The standard value of one machine's state or mode, from its source variable(s).

    ``update(part, value)`` takes the new value of the variable ``part`` (``None`` for the single
    variable of a path or a value map) and returns the translated value, an :class:`Unmapped`, or
    ``None`` while a derived value still waits for some of its variables. A variable that has no
    value (Bad, null) gives ``unknown``.
    """

    def __init__(
        self,
        source: str | ValueMap[Any] | DerivedValue[Any],
        target: type[Target],
        unknown: Target,
    ) -> None:
        self._source = source
        self._target = target
        self.unknown = unknown
        self._parts: dict[str, Any] = {}

    def reset(self) -> None:
        """Forget the variables' values (the connection was lost; they come again on the next)."""
        self._parts.clear()

    def update(self, part: str | None, value: Any) -> Target | Unmapped | None:
        value = vendor_value(value)
        source = self._source
        if isinstance(source, DerivedValue):
            assert part is not None
            self._parts[part] = value
            return self._derive(source)
        if value is None:
            return self.unknown
        if isinstance(source, ValueMap):
            mapped = source.map.get(value) if isinstance(value, bool | int | str) else None
            return mapped if mapped is not None else Unmapped(repr(value))
        try:
            return self._target(str(value))
        except ValueError:
            return Unmapped(repr(value))

    def _derive(self, source: DerivedValue[Any]) -> Target | Unmapped | None:
        if len(self._parts) < len(source.variables):
            return None
        if any(value is None for value in self._parts.values()):
            return self.unknown
        for rule in source.rules:
            if all(_same(self._parts[name], want) for name, want in rule.when.items()):
                return rule.value  # type: ignore[no-any-return]
        if source.otherwise is not None:
            return source.otherwise  # type: ignore[no-any-return]
        combination = ", ".join(f"{name}={self._parts[name]!r}" for name in source.variables)
        return Unmapped(combination)


def _same(value: Any, wanted: bool | int | str) -> bool:
    """Equal and of the same kind: a flag ``true`` does not match the integer 1, nor the reverse."""
    return value == wanted and isinstance(value, bool) == isinstance(wanted, bool)
