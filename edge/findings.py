"""What the gateway found wrong with a machine's nodes and values, for the log and ``/healthz``.

Each finding is logged once when it appears (and once when it goes away), never once per
notification. Missing nodes are found again on every connection: the set of the last complete
binding replaces the previous one, so a node that reappeared (a server updated, a mapping fixed
and the gateway restarted) is no longer listed, and a restart lists again what is still missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

_LOGGER = logging.getLogger(__name__)


@dataclass
class MachineFindings:
    machine: str
    missing: dict[str, str] = field(default_factory=dict)
    """What could not be bound or monitored (``metric power``, ``state``) → why."""
    unmapped: dict[str, str] = field(default_factory=dict)
    """``state``/``mode`` → the vendor value the mapping does not translate, while it lasts."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Metric → why its last value could not be carried (its type, its range)."""
    status: dict[str, str] = field(default_factory=dict)
    """Metric → the StatusCode of its last sample, for metrics whose last sample was not Good."""
    _binding: dict[str, str] | None = None
    _logged: set[tuple[str, str, str]] = field(default_factory=set)

    # Missing nodes, per binding -----------------------------------------------------------

    def binding_started(self) -> None:
        self._binding = {}

    def missing_node(self, what: str, reason: object) -> None:
        if self._binding is not None:
            self._binding[what] = str(reason)
        elif what not in self.missing:
            self.missing[what] = str(reason)
            _LOGGER.warning("%s: %s is missing: %s", self.machine, what, reason)

    @property
    def pending(self) -> dict[str, str]:
        """What the binding in progress found missing so far."""
        return dict(self._binding or {})

    def binding_done(self) -> None:
        """The binding is complete: its findings replace the last ones."""
        found, self._binding = self._binding or {}, None
        for what, reason in found.items():
            if what not in self.missing:
                _LOGGER.warning("%s: skipping %s: %s", self.machine, what, reason)
        for what in self.missing.keys() - found.keys():
            _LOGGER.info("%s: %s is back", self.machine, what)
        self.missing = found

    # Values -------------------------------------------------------------------------------

    def unmapped_value(self, variable: str, value: str) -> bool:
        """Note an untranslated vendor value; whether that changed what is reported."""
        if (variable, "unmapped", value) not in self._logged:
            self._logged.add((variable, "unmapped", value))
            _LOGGER.warning(
                "%s: %s value %s is not in the mapping: reported as unknown",
                self.machine,
                variable,
                value,
            )
        changed = self.unmapped.get(variable) != value
        self.unmapped[variable] = value
        return changed

    def mapped_value(self, variable: str) -> bool:
        return self.unmapped.pop(variable, None) is not None

    def rejected_value(self, metric: str, reason: str) -> None:
        if (metric, "rejected", reason) not in self._logged:
            self._logged.add((metric, "rejected", reason))
            _LOGGER.warning("%s: metric %s: value rejected: %s", self.machine, metric, reason)
        self.rejected[metric] = reason

    def disconnected(self) -> None:
        """Values are unknown until the next connection delivers them again."""
        self.unmapped.clear()
        self.rejected.clear()
        self.status.clear()

    @property
    def problems(self) -> list[str]:
        """What makes the gateway ``degraded``."""
        found = [f"machine {self.machine}: {what} missing" for what in sorted(self.missing)]
        found += [
            f"machine {self.machine}: {variable} value {value} not mapped"
            for variable, value in sorted(self.unmapped.items())
        ]
        found += [
            f"machine {self.machine}: metric {metric} rejected: {reason}"
            for metric, reason in sorted(self.rejected.items())
        ]
        return found

    def health(self) -> dict[str, object]:
        return {
            "missing_nodes": {what: self.missing[what] for what in sorted(self.missing)},
            "unmapped_values": dict(sorted(self.unmapped.items())),
            "rejected_values": dict(sorted(self.rejected.items())),
            "node_status": dict(sorted(self.status.items())),
        }


class Findings:
    """The findings of the machines behind one endpoint."""

    def __init__(self, machines: list[str]) -> None:
        self.by_machine = {machine: MachineFindings(machine) for machine in machines}

    def report(self, machine: str, what: str, reason: object) -> None:
        self.by_machine[machine].missing_node(what, reason)

    def binding_started(self) -> None:
        for findings in self.by_machine.values():
            findings.binding_started()

    def binding_done(self) -> None:
        for findings in self.by_machine.values():
            findings.binding_done()
