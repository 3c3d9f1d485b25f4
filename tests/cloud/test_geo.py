"""The one great-circle distance (registry transport estimates, maintenance routing)."""

import math

import pytest

from cloud.geo import EARTH_RADIUS_KM, Location, distance_km

HALF_CIRCUMFERENCE = math.pi * EARTH_RADIUS_KM


def test_a_known_distance() -> None:
    imola, bologna = Location(44.353, 11.714), Location(44.494, 11.343)
    assert 33 < distance_km(imola, bologna) < 34


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Location(0.0, 0.0), Location(0.0, 180.0)),
        (Location(90.0, 0.0), Location(-90.0, 0.0)),
        # Nearly antipodal: the haversine term rounds to 1.0000000000000002, past 1.
        (
            Location(70.84287658493793, 106.83357171179023),
            Location(-70.84287611613455, -73.1664274750225),
        ),
    ],
)
def test_antipodal_points_are_half_the_circumference_apart(a: Location, b: Location) -> None:
    assert distance_km(a, b) == pytest.approx(HALF_CIRCUMFERENCE, rel=1e-6)
    assert distance_km(b, a) == pytest.approx(HALF_CIRCUMFERENCE, rel=1e-6)
