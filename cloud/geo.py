"""Places on the globe: the one distance that the registry's transport estimates and
maintenance's technician routing both use."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float


def distance_km(a: Location, b: Location) -> float:
    """Great-circle (haversine) distance. The haversine term is clamped to 1: rounding can carry
    it just past 1 for (nearly) antipodal points, where ``asin`` would raise a math domain
    error."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlambda = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
