"""Plant files: validation errors, and the demo network's shape."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from firmware_sim.errors import FaultSpecError, PlantFileError
from firmware_sim.faults import FaultKind, parse_fault_spec
from firmware_sim.plant import load_plant, parse_plant
from firmware_sim.profiles import AssetKind, get_profile, known_types
from glonet.demo import NETWORK_DIR
from tests.firmware_sim.conftest import machine, plant_data

NETWORK = NETWORK_DIR


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def test_demo_network() -> None:
    plants = [load_plant(path) for path in sorted(NETWORK.glob("*.yaml"))]
    shop_floors = [p for p in plants if p.unit != "field-products"]
    machines = [m for p in shop_floors for m in p.machines]
    assert 5 <= len(shop_floors) <= 6 and 15 <= len(machines) <= 25
    assert len({p.port for p in plants}) == len(plants)
    assert all(get_profile(m.type).kind is AssetKind.MACHINE and m.capabilities for m in machines)
    sites = [(p.location.lat, p.location.lon) for p in shop_floors]
    distances = [km(a, b) for i, a in enumerate(sites) for b in sites[i + 1 :]]
    assert min(distances) > 10 and max(distances) < 150
    products = next(p for p in plants if p.unit == "field-products")
    assert {get_profile(m.type).kind for m in products.machines} == {AssetKind.PRODUCT}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"machines": [machine("m", type_="rocket")]}, "unknown asset type 'rocket'"),
        ({"machines": [machine("m"), machine("m")]}, "machine id 'm' is used twice"),
        ({"machines": [machine("bad id")]}, "machines.0.id"),
        ({"port": 70000}, "port"),
        ({"security": "tls"}, "security"),
        ({"surprise": 1}, "surprise"),
        ({"machines": [machine("m", process="juggling")]}, "machines.0.capabilities.0.process"),
    ],
)
def test_plant_errors_name_the_field(change: dict[str, object], expected: str) -> None:
    with pytest.raises(PlantFileError, match=r"^plant\.yaml: ") as error:
        parse_plant({**plant_data(machine("m")), **change}, "plant.yaml")
    assert expected in str(error.value)


def test_fault_specs() -> None:
    spec = parse_fault_spec("freeze:5:20:mill-1")
    assert (spec.kind, spec.after_s, spec.duration_s, spec.machine) == (
        FaultKind.FREEZE,
        5,
        20,
        "mill-1",
    )
    assert parse_fault_spec("crash").after_s == 0
    for bad in ("", "nope", "hang:x", "hang:1:-2", "hang:1:2:m:extra"):
        with pytest.raises(FaultSpecError):
            parse_fault_spec(bad)


def test_docs_describe_every_asset_type_and_variable() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "machines.md").read_text()
    for asset_type in known_types():
        assert f"`{asset_type}`" in docs
        for spec in get_profile(asset_type).metrics:
            assert spec.name in docs, f"{asset_type}.{spec.name} is not in docs/machines.md"
