"""Bill-of-materials lines matched to suppliers' offers: a pure decision on plain values.

Without a local-content rule a line goes to the cheapest offer of its item (then the shortest
lead time); with one, to the cheapest *local* offer first, and to the cheapest other offer only
when no local supplier offers the item. A line nobody offers (or offers only in another
currency) stays unmatched, with the reasons in words.

Pricing calls :func:`match_materials` for a quote's material lines; the confirmation of a quote
turns the matched lines into purchase requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from cloud.geo import LocalArea, Location, locality


class LocalityRule(Protocol):
    """What makes a supplier local to a site: within ``within_km`` of it, or in ``country``
    (an opportunity's local-content rule has these two; both given: both must hold)."""

    @property
    def within_km(self) -> float | None: ...

    @property
    def country(self) -> str | None: ...


@dataclass(frozen=True)
class LocalRule:
    """A locality rule of its own (:class:`LocalityRule`), for callers without an opportunity."""

    within_km: float | None = None
    country: str | None = None


class Place(Protocol):
    """Where something is: a :class:`Site`, or an opportunity's delivery site as it is."""

    @property
    def latitude(self) -> float: ...

    @property
    def longitude(self) -> float: ...


@dataclass(frozen=True)
class Site:
    """Where the product is delivered (an opportunity's delivery site)."""

    latitude: float
    longitude: float
    country: str | None = None


@dataclass(frozen=True)
class SupplierPlace:
    """A supplier as locality sees it: where it is and its own (declared) local flag."""

    supplier_id: str
    latitude: float
    longitude: float
    country: str
    local: bool = False


@dataclass(frozen=True)
class Offer:
    """One supplier's offer of one item: price per unit in ``currency``, lead time in days."""

    supplier: SupplierPlace
    company: str
    item: str
    unit_price: float
    currency: str
    lead_time_days: float


@dataclass(frozen=True)
class MaterialNeed:
    """A bill-of-materials line (``quote.work["materials"][i]``): ``steps`` are the routing
    steps that consume it (empty: the job's first steps)."""

    item: str
    quantity: float
    description: str = ""
    unit: str = "pcs"
    unit_cost: float = 0.0
    steps: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, line: Mapping[str, Any]) -> MaterialNeed:
        return cls(
            item=str(line["item"]),
            quantity=float(line["quantity"]),
            description=str(line.get("description", "")),
            unit=str(line.get("unit", "pcs")),
            unit_cost=float(line.get("unit_cost", 0.0)),
            steps=tuple(str(s) for s in line.get("steps") or ()),
        )


@dataclass(frozen=True)
class MatchedLine:
    """A material line with the supplier it goes to (``supplier_id`` None: none offers it, and
    ``reasons`` say why). ``local``: local to the site by the rule, else the supplier's flag."""

    item: str
    description: str
    quantity: float
    unit: str
    steps: tuple[str, ...]
    supplier_id: str | None = None
    supplier: str | None = None
    unit_price: float | None = None
    price: float | None = None
    currency: str | None = None
    lead_time_days: float | None = None
    local: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matched(self) -> bool:
        return self.supplier_id is not None

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["steps"] = list(self.steps)
        found["reasons"] = list(self.reasons)
        return found


def is_local(supplier: SupplierPlace, site: Place | None, rule: LocalityRule | None) -> bool:
    """Whether ``supplier`` counts as local for ``site`` under ``rule``: within the rule's
    distance of the site and/or in its country (:func:`cloud.geo.locality`, as for members).
    Without a rule, the supplier's own flag; a distance rule without a site makes nobody
    local."""
    if rule is None or (rule.within_km is None and rule.country is None):
        return supplier.local
    area = LocalArea(
        site=None if site is None else Location(site.latitude, site.longitude),
        within_km=rule.within_km,
        country=rule.country,
    )
    here = Location(supplier.latitude, supplier.longitude)
    return locality(area, here, supplier.country).local


def match_materials(
    materials: Iterable[MaterialNeed],
    offers: Sequence[Offer],
    *,
    site: Place | None = None,
    rule: LocalityRule | None = None,
    currency: str | None = None,
) -> list[MatchedLine]:
    """Each line matched to an offer of its item: the cheapest (then the shortest lead time,
    then the supplier id), local offers first when ``rule`` is given. ``currency``: only
    offers in it count (prices in different currencies are not compared)."""
    by_item: dict[str, list[Offer]] = {}
    for offer in offers:
        by_item.setdefault(offer.item, []).append(offer)
    return [_match(line, by_item.get(line.item, []), site, rule, currency) for line in materials]


def _match(
    line: MaterialNeed,
    offers: list[Offer],
    site: Place | None,
    rule: LocalityRule | None,
    currency: str | None,
) -> MatchedLine:
    unmatched = MatchedLine(line.item, line.description, line.quantity, line.unit, line.steps)
    if not offers:
        return _with_reasons(unmatched, f"no supplier offers {line.item}")
    usable = [o for o in offers if currency is None or o.currency == currency]
    if not usable:
        others = ", ".join(sorted({o.currency for o in offers}))
        return _with_reasons(
            unmatched, f"{line.item} is offered only in {others}, not in {currency}"
        )
    local = {id(o): is_local(o.supplier, site, rule) for o in usable}
    reasons: tuple[str, ...] = ()
    if rule is not None:
        best = min(usable, key=lambda o: (not local[id(o)], *_cost(o)))
        if not local[id(best)]:
            reasons = (f"no local supplier offers {line.item}",)
    else:
        best = min(usable, key=_cost)
    return MatchedLine(
        item=line.item,
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        steps=line.steps,
        supplier_id=best.supplier.supplier_id,
        supplier=best.company,
        unit_price=best.unit_price,
        price=round(best.unit_price * line.quantity, 2),
        currency=best.currency,
        lead_time_days=best.lead_time_days,
        local=local[id(best)],
        reasons=reasons,
    )


def _cost(offer: Offer) -> tuple[float, float, str]:
    return offer.unit_price, offer.lead_time_days, offer.supplier.supplier_id


def _with_reasons(line: MatchedLine, *reasons: str) -> MatchedLine:
    return MatchedLine(
        line.item, line.description, line.quantity, line.unit, line.steps, reasons=reasons
    )
