"""A quote's price from its members: pure functions on plain values (the flows gather them).

Each operation of the quote's what-if plan is a line of the member whose machine runs it:
machine hours (plant time, the machine's own) x the member's rate for the process, plus its
setup cost per operation. A member without a rate for the process is charged its sharing
policy's ``hourly_rate``; one with no rate at all, the network's ``default_hourly_rate``
(the line says so). Materials come at their suppliers' prices (the caller matches them, see
:mod:`cloud.suppliers.matching`), or at the bill of materials' unit costs; moving work between
two plants costs ``transport_per_km`` per road km between them, once per pair of consecutive
operations at different plants, and so does delivering the finished work from the plant of each
last operation to the customer's site (a ``delivery`` line, the shipping member's). The
network's margin is a share of all of that.

When no member of the plan has any rate, a configured product's quote keeps its family's own
price formula (``basis: family``): the lines then give the hours only, with no amounts, and the
delivery (which the formula does not know) is added to the formula's price. Work without a
formula (a call for tenders' lines) is priced from the members all the same, each at the
network's default rate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud.config import PricingSettings


@dataclass(frozen=True)
class Rate:
    hourly_rate: float
    setup_cost: float = 0.0


@dataclass(frozen=True)
class MemberRates:
    """A member's rates by process and its sharing policy's hourly rate (the fallback)."""

    by_process: Mapping[str, Rate] = field(default_factory=dict)
    hourly_rate: float | None = None

    @property
    def priced(self) -> bool:
        return bool(self.by_process) or self.hourly_rate is not None

    def rate(self, process: str) -> tuple[Rate | None, str]:
        """The rate for ``process`` and where it comes from ("" when the process has one)."""
        if process in self.by_process:
            return self.by_process[process], ""
        if self.hourly_rate is not None:
            return Rate(self.hourly_rate), "its hourly rate"
        return None, "no rate"


@dataclass(frozen=True)
class PlannedStep:
    """An operation of the quote as its what-if plan placed it."""

    step: str
    name: str
    process: str
    unit_id: str
    machine: str
    machine_hours: float  # plant time on that machine
    predecessors: Sequence[str] = ()


@dataclass(frozen=True)
class Material:
    item: str
    description: str
    quantity: float
    unit: str
    unit_cost: float
    source: str = ""  # where the price comes from: a supplier, or the bill of materials


@dataclass(frozen=True)
class Delivery:
    """The finished work of the last ``steps`` leaving ``unit_id``'s plant for the site."""

    unit_id: str
    steps: Sequence[str]
    site: str
    km: float  # by road
    hours: float  # by road, plant time


def _money(value: float) -> float:
    return round(value, 2)


def price(
    *,
    steps: Sequence[PlannedStep],
    materials: Sequence[Material],
    rates: Mapping[str, MemberRates],
    distance_km: Callable[[str, str], float],
    settings: PricingSettings,
    currency: str,
    formula: tuple[str, float] | None,
    deliveries: Sequence[Delivery] = (),
) -> dict[str, Any]:
    """The breakdown of a quote (stored with it; see ``QuoteBreakdown`` for its fields).
    ``formula``: the product family's name and price, when the work has one; ``deliveries``:
    the legs to the customer's site (none: the work has no site)."""
    members = sorted({s.unit_id for s in steps})
    delivered = [_delivery(d, settings) for d in deliveries]
    if formula is not None and not any(rates.get(unit, MemberRates()).priced for unit in members):
        family_name, family_price = formula
        shipping = " plus its delivery" if delivered else ""
        return {
            "basis": "family",
            "note": f"priced by the {family_name} formula{shipping}: no member of the plan "
            f"({', '.join(members) or 'none'}) has rates",
            "lines": [_hours_only(s) for s in steps] + delivered,
            "subtotal": None,
            "margin": None,
            "total": _money(family_price + sum(line["amount"] for line in delivered)),
        }
    lines = [_operation(s, rates.get(s.unit_id, MemberRates()), settings) for s in steps]
    lines += [_material(m) for m in materials]
    lines += _transport(steps, distance_km, settings)
    lines += delivered
    subtotal = _money(sum(line["amount"] for line in lines))
    margin = _money(subtotal * settings.margin)
    lines.append(
        _line(
            "margin",
            f"network margin {settings.margin:.0%}",
            quantity=subtotal,
            unit=currency,
            rate=settings.margin,
            amount=margin,
        )
    )
    return {
        "basis": "members",
        "note": None,
        "lines": lines,
        "subtotal": subtotal,
        "margin": margin,
        "total": _money(subtotal + margin),
    }


def _line(kind: str, description: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "description": description,
        "unit_id": None,
        "step": None,
        "process": None,
        "machine": None,
        "setup_cost": 0.0,
        **fields,
    }


def _step_fields(step: PlannedStep) -> dict[str, Any]:
    return {
        "unit_id": step.unit_id,
        "step": step.step,
        "process": step.process,
        "machine": step.machine,
        "quantity": round(step.machine_hours, 4),
        "unit": "h",
    }


def _hours_only(step: PlannedStep) -> dict[str, Any]:
    return _line("operation", step.name, **_step_fields(step), rate=None, amount=None)


def _operation(step: PlannedStep, member: MemberRates, settings: PricingSettings) -> dict[str, Any]:
    rate, source = member.rate(step.process)
    description = step.name
    if rate is None:
        rate = Rate(settings.default_hourly_rate)
        source = "the network's default rate: the member has none"
    if source:
        description = f"{step.name} ({source})"
    return _line(
        "operation",
        description,
        **_step_fields(step),
        rate=rate.hourly_rate,
        setup_cost=rate.setup_cost,
        amount=_money(step.machine_hours * rate.hourly_rate + rate.setup_cost),
    )


def _material(material: Material) -> dict[str, Any]:
    return _line(
        "material",
        (f"{material.item}: {material.description}" if material.description else material.item)
        + (f" ({material.source})" if material.source else ""),
        item=material.item,
        quantity=material.quantity,
        unit=material.unit,
        rate=material.unit_cost,
        amount=_money(material.quantity * material.unit_cost),
    )


def _transport(
    steps: Sequence[PlannedStep],
    distance_km: Callable[[str, str], float],
    settings: PricingSettings,
) -> list[dict[str, Any]]:
    """One line per pair of consecutive operations (predecessor → step) at different plants."""
    where = {s.step: s.unit_id for s in steps}
    lines = []
    for step in steps:
        for before in step.predecessors:
            origin = where.get(before)
            if origin is None or origin == step.unit_id:
                continue
            km = round(distance_km(origin, step.unit_id), 1)
            lines.append(
                _line(
                    "transport",
                    f"{origin} → {step.unit_id} after {before}, before {step.step}",
                    step=step.step,
                    quantity=km,
                    unit="km",
                    rate=settings.transport_per_km,
                    amount=_money(km * settings.transport_per_km),
                )
            )
    return lines


def _delivery(delivery: Delivery, settings: PricingSettings) -> dict[str, Any]:
    """A leg to the site at the transport rate between plants; the line is the shipping
    member's (it hands the work over), so that member sees where it goes and for how much."""
    km = round(delivery.km, 1)
    return _line(
        "delivery",
        f"delivery {delivery.unit_id} → {delivery.site} after {', '.join(delivery.steps)} "
        f"({delivery.hours:.1f} h by road)",
        unit_id=delivery.unit_id,
        step=delivery.steps[-1],
        quantity=km,
        unit="km",
        rate=settings.transport_per_km,
        amount=_money(km * settings.transport_per_km),
    )
