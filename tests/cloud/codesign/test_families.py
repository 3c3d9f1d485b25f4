from pathlib import Path

import pytest
import yaml

from cloud.codesign.families import FamilyError, load_families, load_family
from cloud.config import DEFAULT_FAMILIES_DIR

FAMILIES = DEFAULT_FAMILIES_DIR


def test_the_demo_network_ships_at_least_three_families():
    families = load_families(FAMILIES)
    assert len(families) >= 3
    for family in families.values():
        kinds = {option.type for option in family.options}
        assert {"choice", "number", "boolean"} <= kinds, family.id
        assert family.rules and family.routing and family.materials


def _write(tmp_path, data) -> Path:
    path = tmp_path / "family.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _minimal() -> dict:
    return {
        "id": "widget",
        "name": "Widget",
        "options": [
            {"id": "size", "label": "Size", "type": "number", "min": 1, "max": 5, "default": 2}
        ],
        "routing": [
            {"id": "cut", "name": "Cut", "process": "laser_cutting", "duration_min": "10 * size"},
            {
                "id": "weld",
                "name": "Weld",
                "process": "welding",
                "duration_min": 20,
                "after": ["cut"],
            },
        ],
        "price": "100 * size",
    }


def test_minimal_family_loads(tmp_path):
    assert load_family(_write(tmp_path, _minimal())).id == "widget"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(price="100 * colour"), "price: unknown option(s) colour"),
        (lambda d: d["routing"][0].update(after=["weld"]), "precedence cycle"),
        (
            lambda d: d["routing"][1].update(after=["paint"]),
            "routing.weld.after: unknown operation",
        ),
        (lambda d: d["routing"][0].update(process="juggling"), "routing.0.process"),
        (lambda d: d["options"][0].update(default=9), "outside"),
        (lambda d: d["options"].append(dict(d["options"][0])), "duplicate option id"),
        (lambda d: d.update(price="__import__('os')"), "price"),
        (
            lambda d: d.update(rules=[{"id": "r", "if": "size > 1", "message": "m"}]),
            "exactly one of requires, excludes, constraint",
        ),
        (lambda d: d.update(colour="red"), "colour"),
    ],
)
def test_broken_families_fail_at_load_time_naming_the_key(tmp_path, change, message):
    data = _minimal()
    change(data)
    with pytest.raises(FamilyError) as excinfo:
        load_family(_write(tmp_path, data))
    assert message in str(excinfo.value)
    assert "family.yaml" in str(excinfo.value)


def test_unreadable_yaml_is_a_family_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed")
    with pytest.raises(FamilyError, match="cannot read"):
        load_family(path)
