"""Picking a consortium: the cheapest set of offers that covers every requirement.

A pure decision core (no database): the consortium service feeds it the accepted answers to
invitations (and, where a local-content rule applies, suppliers' material lines), and
:func:`select` answers with the chosen offers or with the reasons, in words, why there are none.

The model is exact (OR-Tools CP-SAT on integer-scaled money and shares):

- every requirement is covered by exactly one chosen offer (an offer may cover several);
- an offer is eligible for a requirement only if it arrives at the site by the due date (its
  ``earliest_end`` plus its ``road`` to the site) and holds the requirement's certifications
  (both are filters, checked before the solver);
- local content: the local offers' value is at least ``min_local_share`` of the chosen value;
- each party's work is at most its ``max_share`` of the chosen work (the members' sharing
  policy ``max_order_share``);
- minimum total cost.

When there is no selection, the reasons come from direct checks (a requirement nobody eligible
offers) and from solving the model again with one group of constraints relaxed (local content,
each party's share), so that "infeasible because …" names the constraint that bites.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ortools.sat.python import cp_model

DEFAULT_TIME_LIMIT_S = 10.0
DEFAULT_WORKERS = 1
"""One search worker: the same answers give the same consortium (and the machine is shared)."""
MONEY_SCALE = 100
"""Costs and values are solved in cents."""
SHARE_SCALE = 10_000
"""Shares are solved in basis points."""
WORK_SCALE = 100


@dataclass(frozen=True)
class Requirement:
    """One thing the opportunity needs: a required process, or a material line."""

    item: str
    certifications: frozenset[str] = frozenset()
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.item


@dataclass(frozen=True)
class Offer:
    """What one party offers: the items it covers, for a cost, ending no earlier than
    ``earliest_end`` and arriving at the site ``road`` later (on the same clock as the due
    date). ``value`` counts towards local content (the cost unless given), ``work`` towards the
    party's share of the work (the value unless given)."""

    id: str
    party: str
    covers: frozenset[str]
    cost: float
    local: bool = False
    earliest_end: datetime | None = None
    certifications: frozenset[str] = frozenset()
    value: float | None = None
    work: float | None = None
    road: timedelta = timedelta(0)

    @property
    def arrival(self) -> datetime | None:
        """When the offered work reaches the site: its end plus the road there."""
        return None if self.earliest_end is None else self.earliest_end + self.road

    @property
    def counted_value(self) -> float:
        return self.cost if self.value is None else self.value

    @property
    def counted_work(self) -> float:
        return self.counted_value if self.work is None else self.work


@dataclass(frozen=True)
class SelectionProblem:
    requirements: tuple[Requirement, ...]
    offers: tuple[Offer, ...]
    due: datetime | None = None
    min_local_share: float | None = None
    """0..1: the least share of the chosen value that local offers must bring."""
    max_share: Mapping[str, float] = field(default_factory=dict)
    """Party -> the most (0..1] of the chosen work it may take; absent means no limit."""
    locality_notes: Mapping[str, str] = field(default_factory=dict)
    """Party -> why its offers may wrongly not count as local ("country unknown: not counted as
    in IT"), said with the local-content reason when that rule bites."""


@dataclass(frozen=True)
class Selection:
    feasible: bool
    offers: tuple[Offer, ...] = ()
    total_cost: float = 0.0
    local_share: float | None = None
    work_shares: Mapping[str, float] = field(default_factory=dict)
    cost_shares: Mapping[str, float] = field(default_factory=dict)
    optimal: bool = False
    reasons: tuple[str, ...] = ()
    solve_time_s: float = 0.0


# Eligibility --------------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _arrives_in_time(offer: Offer, due: datetime | None) -> bool:
    arrival = offer.arrival
    return due is None or arrival is None or arrival <= due


def _hours(road: timedelta) -> str:
    return f"{road.total_seconds() / 3600:.1f} h"


def _late_by_the_road(offers: Sequence[Offer], due: datetime) -> str:
    """Where an offer ends in time but its road to the site makes it late, the one that ends
    first, in words (" (plant-a ends 11 Mar 2027 22:00, then 4.1 h on the road)"), else ""."""
    ending = [o for o in offers if o.earliest_end is not None and o.earliest_end <= due]
    if not ending:
        return ""
    first = min(ending, key=lambda o: (o.earliest_end or due, o.road, o.id))
    assert first.earliest_end is not None
    return (
        f" ({first.party} ends {_day(first.earliest_end)} {first.earliest_end:%H:%M}, "
        f"then {_hours(first.road)} on the road)"
    )


def eligible_offers(problem: SelectionProblem) -> tuple[Offer, ...]:
    """The offers that may be chosen: each covered item is required, the offer arrives at the
    site by the due date and holds every certification its items require."""
    required = {r.item: r for r in problem.requirements}
    return tuple(
        offer
        for offer in problem.offers
        if offer.covers
        and offer.covers <= required.keys()
        and _arrives_in_time(offer, problem.due)
        and all(required[item].certifications <= offer.certifications for item in offer.covers)
    )


def _coverage_reasons(problem: SelectionProblem, eligible: Sequence[Offer]) -> list[str]:
    """A reason per requirement that no eligible offer covers, naming the filter that bit."""
    reasons = []
    for requirement in problem.requirements:
        if any(requirement.item in offer.covers for offer in eligible):
            continue
        offering = [o for o in problem.offers if requirement.item in o.covers]
        in_time = [o for o in offering if _arrives_in_time(o, problem.due)]
        certified = [o for o in offering if requirement.certifications <= o.certifications]
        missing = ", ".join(sorted(requirement.certifications))
        if not offering:
            reasons.append(f"no accepted offer for {requirement.name}")
        elif not in_time:
            assert problem.due is not None
            reasons.append(
                f"no accepted offer for {requirement.name} arrives at the site before "
                f"{_day(problem.due)}{_late_by_the_road(offering, problem.due)}"
            )
        elif not certified:
            reasons.append(f"no accepted offer for {requirement.name} holds {missing}")
        elif not [o for o in in_time if o in certified]:
            assert problem.due is not None
            reasons.append(
                f"no accepted offer for {requirement.name} both holds {missing} "
                f"and arrives at the site before {_day(problem.due)}"
                f"{_late_by_the_road(certified, problem.due)}"
            )
        else:
            reasons.append(
                f"every accepted offer for {requirement.name} also covers work "
                "that was not asked for or is not eligible"
            )
    return reasons


# The model ----------------------------------------------------------------------------------


@dataclass
class _Model:
    model: cp_model.CpModel
    chosen: list[cp_model.IntVar]
    local_share: cp_model.IntVar | None = None


def _scaled(amount: float, scale: int) -> int:
    return round(amount * scale)


def _build(
    problem: SelectionProblem,
    offers: Sequence[Offer],
    *,
    local_rule: bool,
    share_limits: Mapping[str, float],
) -> _Model:
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"offer_{i}") for i in range(len(offers))]
    for requirement in problem.requirements:
        model.add_exactly_one(
            chosen[i] for i, offer in enumerate(offers) if requirement.item in offer.covers
        )
    value = [_scaled(o.counted_value, MONEY_SCALE) for o in offers]
    total_value = model.new_int_var(0, sum(value), "total_value")
    model.add(total_value == sum(v * x for v, x in zip(value, chosen, strict=True)))
    local_value = sum(v * x for v, x, o in zip(value, chosen, offers, strict=True) if o.local)
    if local_rule and problem.min_local_share is not None:
        least = _scaled(problem.min_local_share, SHARE_SCALE)
        model.add(SHARE_SCALE * local_value >= least * total_value)
    work = [_scaled(o.counted_work, WORK_SCALE) for o in offers]
    # One variable for the total, so that each party's limit is a short constraint.
    total_work = model.new_int_var(0, sum(work), "total_work")
    model.add(total_work == sum(w * x for w, x in zip(work, chosen, strict=True)))
    for party, limit in share_limits.items():
        mine = [w * x for w, x, o in zip(work, chosen, offers, strict=True) if o.party == party]
        if mine and limit < 1:
            model.add(SHARE_SCALE * sum(mine) <= _scaled(limit, SHARE_SCALE) * total_work)
    cost = [_scaled(o.cost, MONEY_SCALE) for o in offers]
    model.minimize(sum(c * x for c, x in zip(cost, chosen, strict=True)))
    return _Model(model, chosen)


def _solver(time_limit_s: float, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    return solver


def _feasible(
    problem: SelectionProblem,
    offers: Sequence[Offer],
    *,
    local_rule: bool,
    share_limits: Mapping[str, float],
    time_limit_s: float,
) -> bool | None:
    """Whether a relaxed model has a solution (``None``: the time limit came first)."""
    built = _build(problem, offers, local_rule=local_rule, share_limits=share_limits)
    built.model.clear_objective()
    status = _solver(time_limit_s, DEFAULT_WORKERS).solve(built.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    if status == cp_model.INFEASIBLE:
        return False
    return None


def _best_local_share(
    problem: SelectionProblem,
    offers: Sequence[Offer],
    *,
    share_limits: Mapping[str, float],
    time_limit_s: float,
) -> float | None:
    """The highest local share any cover reaches (under ``share_limits``), or ``None``."""
    built = _build(problem, offers, local_rule=False, share_limits=share_limits)
    model = built.model
    model.clear_objective()
    value = [_scaled(o.counted_value, MONEY_SCALE) for o in offers]
    top = max(1, sum(value))
    total = model.new_int_var(1, top, "total_value")
    local = model.new_int_var(0, top, "local_value")
    model.add(total == sum(v * x for v, x in zip(value, built.chosen, strict=True)))
    model.add(
        local == sum(v * x for v, x, o in zip(value, built.chosen, offers, strict=True) if o.local)
    )
    scaled_local = model.new_int_var(0, top * SHARE_SCALE, "scaled_local")
    model.add(scaled_local == SHARE_SCALE * local)
    share = model.new_int_var(0, SHARE_SCALE, "local_share")
    model.add_division_equality(share, scaled_local, total)
    model.maximize(share)
    solver = _solver(time_limit_s, DEFAULT_WORKERS)
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return solver.value(share) / SHARE_SCALE


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def _with_notes(reason: str, problem: SelectionProblem, offers: Sequence[Offer]) -> str:
    """The local-content reason with the notes of the parties that could have offered."""
    offering = {o.party for o in offers}
    notes = [f"{p}: {why}" for p, why in sorted(problem.locality_notes.items()) if p in offering]
    return f"{reason} ({'; '.join(notes)})" if notes else reason


def _constraint_reasons(
    problem: SelectionProblem, offers: Sequence[Offer], time_limit_s: float
) -> list[str]:
    """Why a model whose every requirement has an eligible offer has no solution."""
    limits = {p: s for p, s in problem.max_share.items() if s < 1}

    def feasible(*, local_rule: bool, share_limits: Mapping[str, float]) -> bool | None:
        return _feasible(
            problem,
            offers,
            local_rule=local_rule,
            share_limits=share_limits,
            time_limit_s=time_limit_s,
        )

    if feasible(local_rule=False, share_limits={}) is False:
        return [
            "no combination of the eligible offers covers each requirement exactly once "
            "(offers covering several requirements overlap)"
        ]
    reasons = []
    required = problem.min_local_share or 0.0
    if problem.min_local_share is not None:
        best = _best_local_share(problem, offers, share_limits={}, time_limit_s=time_limit_s)
        if best is not None and best < required:
            reason = f"local content {_percent(best)} < required {_percent(required)}"
            reasons.append(_with_notes(reason, problem, offers))
    if limits and feasible(local_rule=False, share_limits=limits) is False:
        binding = [
            party
            for party in sorted(limits)
            if feasible(
                local_rule=False,
                share_limits={p: s for p, s in limits.items() if p != party},
            )
        ]
        named = binding or sorted(limits)
        reasons.append(
            "the members' max order shares leave no cover: "
            + ", ".join(f"{party} takes at most {_percent(limits[party])}" for party in named)
        )
    if not reasons and problem.min_local_share is None:
        reasons.append(f"no selection proven possible within {time_limit_s:g} s")
    if not reasons:
        best = _best_local_share(problem, offers, share_limits=limits, time_limit_s=time_limit_s)
        shown = "no" if best is None else _percent(best)
        reason = (
            f"within the members' max order shares, local content reaches {shown} "
            f"< required {_percent(required)}"
        )
        reasons.append(_with_notes(reason, problem, offers))
    return reasons


# Solving ------------------------------------------------------------------------------------


def select(
    problem: SelectionProblem,
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    workers: int = DEFAULT_WORKERS,
) -> Selection:
    """The cheapest consortium for ``problem``, or the reasons there is none."""
    started = time.perf_counter()
    offers = eligible_offers(problem)
    reasons = _coverage_reasons(problem, offers)
    if reasons:
        return Selection(
            feasible=False, reasons=tuple(reasons), solve_time_s=time.perf_counter() - started
        )
    built = _build(problem, offers, local_rule=True, share_limits=problem.max_share)
    solver = _solver(time_limit_s, workers)
    status = solver.solve(built.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.INFEASIBLE:
            reasons = _constraint_reasons(problem, offers, time_limit_s)
        else:
            reasons = [f"no selection found within {time_limit_s:g} s"]
        return Selection(
            feasible=False, reasons=tuple(reasons), solve_time_s=time.perf_counter() - started
        )
    picked = tuple(o for o, x in zip(offers, built.chosen, strict=True) if solver.value(x))
    return _selection(picked, optimal=status == cp_model.OPTIMAL, started=started)


def _selection(picked: tuple[Offer, ...], *, optimal: bool, started: float) -> Selection:
    total_cost = sum(o.cost for o in picked)
    total_value = sum(o.counted_value for o in picked)
    total_work = sum(o.counted_work for o in picked)
    work: dict[str, float] = {}
    cost: dict[str, float] = {}
    for offer in picked:
        work[offer.party] = work.get(offer.party, 0.0) + offer.counted_work
        cost[offer.party] = cost.get(offer.party, 0.0) + offer.cost
    return Selection(
        feasible=True,
        offers=picked,
        total_cost=total_cost,
        local_share=(
            sum(o.counted_value for o in picked if o.local) / total_value if total_value else None
        ),
        work_shares={p: w / total_work if total_work else 0.0 for p, w in work.items()},
        cost_shares={p: c / total_cost if total_cost else 0.0 for p, c in cost.items()},
        optimal=optimal,
        solve_time_s=time.perf_counter() - started,
    )


# For the benchmark ----------------------------------------------------------------------------


def synthetic_problem(
    *,
    members: int = 50,
    processes: int = 20,
    offer_rate: float = 0.5,
    seed: int = 0,
    min_local_share: float | None = 0.3,
) -> SelectionProblem:
    """A random network's accepted answers: each member offers each process with probability
    ``offer_rate`` (at its own price and end), one member in five is local, some processes ask
    for a certification, and every member may take at most half of the work."""
    rng = random.Random(seed)
    start = datetime(2027, 3, 1, tzinfo=UTC)
    due = start + timedelta(days=20)
    requirements = tuple(
        Requirement(
            item=f"p{k:02d}",
            certifications=frozenset({"ISO 3834"}) if k % 5 == 0 else frozenset(),
        )
        for k in range(processes)
    )
    offers = []
    for m in range(members):
        certified = rng.random() < 0.6
        for requirement in requirements:
            if rng.random() >= offer_rate:
                continue
            offers.append(
                Offer(
                    id=f"m{m:02d}-{requirement.item}",
                    party=f"m{m:02d}",
                    covers=frozenset({requirement.item}),
                    cost=float(rng.randint(500, 5000)),
                    local=m % 5 == 0,
                    earliest_end=start + timedelta(days=rng.randint(5, 25)),
                    certifications=frozenset({"ISO 3834"}) if certified else frozenset(),
                    work=float(rng.randint(4, 40)),
                )
            )
    return SelectionProblem(
        requirements=requirements,
        offers=tuple(offers),
        due=due,
        min_local_share=min_local_share,
        max_share={f"m{m:02d}": 0.5 for m in range(members)},
    )
