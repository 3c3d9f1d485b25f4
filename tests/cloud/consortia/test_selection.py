"""The consortium selection against brute force, and its reasons when there is none."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from cloud.consortia.selection import (
    Offer,
    Requirement,
    SelectionProblem,
    select,
    synthetic_problem,
)
from cloud.geo import LocalArea, Location, locality

DUE = datetime(2027, 3, 12, tzinfo=UTC)
BEFORE = DUE - timedelta(days=2)
AFTER = DUE + timedelta(days=2)


def offer(
    id: str, party: str, covers: str, cost: float, **fields: object
) -> Offer:  # a short constructor for the tables below
    return Offer(id=id, party=party, covers=frozenset(covers.split()), cost=cost, **fields)  # type: ignore[arg-type]


def problem(*offers: Offer, items: str = "welding painting", **fields: object) -> SelectionProblem:
    requirements = tuple(Requirement(item=item) for item in items.split())
    return SelectionProblem(requirements=requirements, offers=offers, **fields)  # type: ignore[arg-type]


# Brute force: every subset, exact arithmetic, its own reading of the rules -----------------

RULE_COUNTRY = "IT"


def brute_force_cost(
    problem: SelectionProblem, countries: dict[str, str | None] | None = None
) -> Fraction | None:
    """``countries``: member units' countries (None: unknown), local when in
    :data:`RULE_COUNTRY`; the other parties (suppliers) by their offers' own flag."""
    required = {r.item: r for r in problem.requirements}
    countries = countries or {}

    def is_local(o: Offer) -> bool:
        if o.party in countries:
            return countries[o.party] == RULE_COUNTRY
        return o.local

    def eligible(o: Offer) -> bool:
        # In time when the work reaches the site: its end plus the road there.
        in_time = (
            problem.due is None or o.earliest_end is None or o.earliest_end + o.road <= problem.due
        )
        certified = all(
            required[i].certifications <= o.certifications for i in o.covers if i in required
        )
        return bool(o.covers) and o.covers <= required.keys() and in_time and certified

    def value(o: Offer) -> Fraction:
        return Fraction(str(o.cost if o.value is None else o.value))

    def work(o: Offer) -> Fraction:
        return value(o) if o.work is None else Fraction(str(o.work))

    offers = [o for o in problem.offers if eligible(o)]
    best: Fraction | None = None
    for size in range(1, len(offers) + 1):
        for subset in itertools.combinations(offers, size):
            covered = [i for o in subset for i in o.covers]
            if sorted(covered) != sorted(required):
                continue
            total_value = sum(value(o) for o in subset)
            if problem.min_local_share is not None:
                local = sum(value(o) for o in subset if is_local(o))
                if local < Fraction(str(problem.min_local_share)) * total_value:
                    continue
            total_work = sum(work(o) for o in subset)
            if any(
                sum(work(o) for o in subset if o.party == party) > Fraction(str(limit)) * total_work
                for party, limit in problem.max_share.items()
            ):
                continue
            cost = sum((Fraction(str(o.cost)) for o in subset), Fraction(0))
            if best is None or cost < best:
                best = cost
    return best


def random_problem(rng: random.Random) -> tuple[SelectionProblem, dict[str, str | None]]:
    """A random problem under a local-content rule by country (or none), and the countries of
    its member units: a unit is local as :func:`cloud.geo.locality` says from its country (a
    unit of unknown country never is), a supplier ("s…") by its own flag."""
    items = [f"p{k}" for k in range(rng.randint(1, 4))]
    requirements = tuple(
        Requirement(item=i, certifications=frozenset({"ISO 3834"}) if rng.random() < 0.2 else set())  # type: ignore[arg-type]
        for i in items
    )
    units = {f"u{k}": rng.choice(["IT", "DE", None]) for k in range(rng.randint(1, 4))}
    parties = [*units, *(f"s{k}" for k in range(rng.randint(0, 2)))]
    area = LocalArea(country=RULE_COUNTRY)
    offers = []
    for n in range(rng.randint(1, 9)):
        size = 1 if rng.random() < 0.7 else 2
        party = rng.choice(parties)
        offers.append(
            Offer(
                id=f"o{n}",
                party=party,
                covers=frozenset(rng.sample(items, min(size, len(items)))),
                cost=float(rng.randint(1, 40)),
                value=float(rng.randint(1, 40)) if rng.random() < 0.3 else None,
                work=float(rng.randint(1, 10)) if rng.random() < 0.5 else None,
                local=(
                    locality(area, Location(45.0, 9.0), units[party]).local
                    if party in units
                    else rng.random() < 0.4
                ),
                earliest_end=rng.choice([None, BEFORE, AFTER]),
                # A long road makes an offer that ends BEFORE arrive late.
                road=timedelta(days=rng.choice([0, 1, 3])),
                certifications=frozenset({"ISO 3834"}) if rng.random() < 0.6 else frozenset(),
            )
        )
    instance = SelectionProblem(
        requirements=requirements,
        offers=tuple(offers),
        due=rng.choice([None, DUE]),
        min_local_share=rng.choice([None, 0.25, 0.5]),
        max_share={p: rng.choice([0.4, 0.6, 1.0]) for p in parties if rng.random() < 0.5},
    )
    return instance, units


def test_select_matches_brute_force_on_random_instances() -> None:
    rng = random.Random(21)
    feasible = 0
    for _ in range(300):
        instance, countries = random_problem(rng)
        expected = brute_force_cost(instance, countries)
        found = select(instance, workers=1)
        assert found.feasible is (expected is not None), instance
        if expected is None:
            assert found.reasons, instance
            continue
        feasible += 1
        assert found.optimal
        assert Fraction(str(found.total_cost)) == expected, instance
        covered = sorted(i for o in found.offers for i in o.covers)
        assert covered == sorted(r.item for r in instance.requirements)
    # Both outcomes are exercised, not one by accident of the generator.
    assert 60 < feasible < 270


# The choice ---------------------------------------------------------------------------------


def test_cheapest_cover_with_shares_of_work_and_revenue() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 300, work=10),
            offer("b-w", "b", "welding", 200, work=10),
            offer("b-p", "b", "painting", 100, work=30),
            offer("ab", "a", "welding painting", 500),
        )
    )
    assert found.feasible and found.optimal
    assert {o.id for o in found.offers} == {"b-w", "b-p"}
    assert found.total_cost == 300
    assert found.work_shares == {"b": 1.0}
    assert found.cost_shares == {"b": 1.0}


def test_max_order_share_spreads_the_work() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 300, work=10),
            offer("b-w", "b", "welding", 200, work=10),
            offer("b-p", "b", "painting", 100, work=30),
            max_share={"b": 0.8},
        )
    )
    assert {o.id for o in found.offers} == {"a-w", "b-p"}
    assert found.work_shares == {"a": 0.25, "b": 0.75}
    assert found.cost_shares == {"a": 0.75, "b": 0.25}


def test_local_content_rule_chooses_the_local_supplier() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 300),
            offer("a-steel", "far-mill", "steel", 100),
            offer("l-steel", "near-mill", "steel", 150, local=True),
            items="welding steel",
            min_local_share=0.3,
        )
    )
    assert {o.id for o in found.offers} == {"a-w", "l-steel"}
    assert found.local_share == pytest.approx(150 / 450)


# The reasons --------------------------------------------------------------------------------


def test_reason_names_the_process_nobody_finishes_in_time() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 300, earliest_end=BEFORE),
            offer("a-p", "a", "painting", 100, earliest_end=AFTER),
            due=DUE,
        )
    )
    assert not found.feasible
    assert found.reasons == (
        "no accepted offer for painting arrives at the site before 12 Mar 2027",
    )


def test_an_offer_that_ends_in_time_is_late_when_its_road_to_the_site_is_long() -> None:
    ends = DUE - timedelta(hours=3)
    found = select(
        problem(
            offer("near-w", "near", "welding", 300, earliest_end=ends, road=timedelta(hours=2)),
            offer("far-p", "far", "painting", 50, earliest_end=ends, road=timedelta(hours=4)),
            offer("far-w", "far", "welding", 100, earliest_end=ends, road=timedelta(hours=4)),
            due=DUE,
        )
    )
    assert not found.feasible
    assert found.reasons == (
        "no accepted offer for painting arrives at the site before 12 Mar 2027 "
        "(far ends 11 Mar 2027 21:00, then 4.0 h on the road)",
    )
    in_time = select(
        problem(
            offer("near-w", "near", "welding", 300, earliest_end=ends, road=timedelta(hours=2)),
            offer("near-p", "near", "painting", 80, earliest_end=ends, road=timedelta(hours=2)),
            offer("far-w", "far", "welding", 100, earliest_end=ends, road=timedelta(hours=4)),
            due=DUE,
        )
    )
    # far's cheaper welding ends in time but arrives an hour late: near's is chosen.
    assert {o.id for o in in_time.offers} == {"near-w", "near-p"}
    assert [o.arrival for o in in_time.offers] == [DUE - timedelta(hours=1)] * 2


def test_reasons_for_missing_offers_and_certifications() -> None:
    instance = SelectionProblem(
        requirements=(
            Requirement(item="welding", certifications=frozenset({"ISO 3834"})),
            Requirement(item="painting"),
        ),
        offers=(offer("a-w", "a", "welding", 300),),
    )
    assert select(instance).reasons == (
        "no accepted offer for welding holds ISO 3834",
        "no accepted offer for painting",
    )


def test_reason_gives_the_local_content_reached() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 820),
            offer("l-p", "l", "painting", 180, local=True),
            offer("a-p", "a", "painting", 100),
            min_local_share=0.3,
        )
    )
    assert found.reasons == ("local content 18 % < required 30 %",)


def test_a_member_of_unknown_country_is_named_when_the_country_rule_bites() -> None:
    """Under a rule by country, a member whose country is not known does not count as in it,
    and the reason says so (the consortium flows give that note for such members)."""
    found = select(
        problem(
            offer("it-w", "it-member", "welding", 300, local=True),
            offer("x-p", "unknown", "painting", 700),
            min_local_share=0.5,
            locality_notes={
                "unknown": "country unknown: not counted as in IT",
                "absent": "country unknown: not counted as in IT",
            },
        )
    )
    assert found.reasons == (
        "local content 30 % < required 50 % (unknown: country unknown: not counted as in IT)",
    )


def test_reason_names_the_member_whose_share_limit_bites() -> None:
    found = select(
        problem(
            offer("a-w", "a", "welding", 300, work=10),
            offer("a-p", "a", "painting", 100, work=30),
            offer("b-p", "b", "painting", 100, work=5),
            max_share={"a": 0.5, "b": 0.5},
        )
    )
    assert found.reasons == ("the members' max order shares leave no cover: a takes at most 50 %",)


def test_reason_for_offers_that_overlap() -> None:
    found = select(
        problem(
            offer("ab", "a", "welding painting", 300),
            offer("bc", "b", "painting bending", 300),
            items="welding painting bending",
        )
    )
    assert not found.feasible
    assert "covers each requirement exactly once" in found.reasons[0]


def test_the_benchmark_instance_is_solved() -> None:
    instance = synthetic_problem(members=12, processes=6, seed=3)
    found = select(instance)
    assert found.feasible and found.optimal
    assert found.local_share is not None and found.local_share >= 0.3
    assert max(found.work_shares.values()) <= 0.5 + 1e-9
