"""Bill-of-materials lines matched to suppliers: cheapest, local first under a rule, reasons."""

from __future__ import annotations

from cloud.opportunities.models import LocalContentRule
from cloud.opportunities.models import Site as DeliverySite
from cloud.suppliers.matching import (
    LocalRule,
    MaterialNeed,
    Offer,
    Site,
    SupplierPlace,
    is_local,
    match_materials,
)

BOLOGNA = Site(44.494, 11.343, "IT")
NEAR = SupplierPlace("emilia-steel", 44.55, 11.40, "IT")  # ~8 km away
FAR = SupplierPlace("ruhr-stahl", 51.45, 7.01, "DE", local=False)
ABROAD_FLAGGED = SupplierPlace("ticino-parts", 46.0, 8.95, "CH", local=True)


def offer(
    place: SupplierPlace, item: str, price: float, days: float = 5, cur: str = "EUR"
) -> Offer:
    return Offer(place, place.supplier_id.title(), item, price, cur, days)


OFFERS = [
    offer(NEAR, "steel-plate", 190, days=2),
    offer(FAR, "steel-plate", 150, days=9),
    offer(FAR, "robot-arm", 9000, days=20),
    offer(ABROAD_FLAGGED, "camera", 3500, cur="CHF"),
]
PLATE = MaterialNeed("steel-plate", 0.8, "S355 plate", "m2", steps=("cut-base-plates",))


def test_locality_by_distance_by_country_and_by_flag() -> None:
    assert is_local(NEAR, BOLOGNA, LocalRule(within_km=50))
    assert not is_local(FAR, BOLOGNA, LocalRule(within_km=50))
    assert is_local(NEAR, BOLOGNA, LocalRule(country="it"))
    assert not is_local(ABROAD_FLAGGED, BOLOGNA, LocalRule(country="IT"))
    assert not is_local(NEAR, BOLOGNA, LocalRule(within_km=5, country="IT"))
    assert not is_local(NEAR, None, LocalRule(within_km=50))  # no site: nobody is near it
    assert is_local(ABROAD_FLAGGED, BOLOGNA, None) and not is_local(NEAR, BOLOGNA, None)


def test_cheapest_without_a_rule_local_first_with_one() -> None:
    (cheapest,) = match_materials([PLATE], OFFERS)
    assert (cheapest.supplier_id, cheapest.unit_price, cheapest.price) == ("ruhr-stahl", 150, 120)
    assert cheapest.lead_time_days == 9 and not cheapest.local and cheapest.reasons == ()
    assert cheapest.steps == ("cut-base-plates",)

    (local,) = match_materials([PLATE], OFFERS, site=BOLOGNA, rule=LocalRule(within_km=50))
    assert (local.supplier_id, local.price, local.local) == ("emilia-steel", 152.0, True)


def test_no_local_offer_falls_back_to_the_cheapest_and_says_so() -> None:
    arm = MaterialNeed("robot-arm", 1)
    (line,) = match_materials([arm], OFFERS, site=BOLOGNA, rule=LocalRule(within_km=50))
    assert line.supplier_id == "ruhr-stahl" and not line.local
    assert line.reasons == ("no local supplier offers robot-arm",)


def test_unmatched_lines_say_why() -> None:
    fence, camera = MaterialNeed("fence-panel", 10), MaterialNeed("camera", 1)
    lines = match_materials([fence, camera], OFFERS, currency="EUR")
    assert [line.matched for line in lines] == [False, False]
    assert lines[0].reasons == ("no supplier offers fence-panel",)
    assert lines[1].reasons == ("camera is offered only in CHF, not in EUR",)
    assert lines[0].to_json()["supplier_id"] is None


def test_ties_go_to_the_shorter_lead_time() -> None:
    quick = SupplierPlace("quick", 45.0, 11.0, "IT")
    offers = [offer(FAR, "cabinet", 2600, days=10), offer(quick, "cabinet", 2600, days=3)]
    (line,) = match_materials([MaterialNeed("cabinet", 1)], offers)
    assert line.supplier_id == "quick"


def test_an_opportunitys_site_and_local_content_rule_are_taken_as_they_are() -> None:
    site = DeliverySite(name="Bologna", latitude=44.494, longitude=11.343, country="IT")
    rule = LocalContentRule(min_share=0.3, within_km=50)
    (line,) = match_materials([PLATE], OFFERS, site=site, rule=rule)
    assert line.supplier_id == "emilia-steel" and line.local
    assert not is_local(FAR, site, LocalContentRule(min_share=0.3, country="IT"))
