"""Places on the globe: the one distance that the registry's transport estimates and
maintenance's technician routing both use, the countries a place may be in, and what a
local-content rule counts as local."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

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


# Countries ----------------------------------------------------------------------------------

_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_ISO_3166_ALPHA_2.split())
"""The 249 officially assigned ISO 3166-1 alpha-2 codes, as the tz database's ``iso3166.tab``
lists them (a list that changes about once a decade: kept here rather than a dependency)."""


def _assigned(code: str) -> str:
    if code not in COUNTRY_CODES:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code (like IT or DE)")
    return code


Country = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. IT"),
    AfterValidator(_assigned),
]
"""A country in API bodies: two capital letters that ISO 3166-1 assigns (``XX`` is a 422)."""


# Local content ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalArea:
    """Where a local-content rule counts a party as local: within ``within_km`` of ``site``,
    and/or in ``country`` (an opportunity's rule gives one of the two)."""

    site: Location | None = None
    within_km: float | None = None
    country: str | None = None


@dataclass(frozen=True)
class Locality:
    """Whether a party is local by a :class:`LocalArea`, and why in words."""

    local: bool
    words: str


def locality(area: LocalArea, location: Location, country: str | None) -> Locality:
    """Whether a party at ``location`` in ``country`` is local to ``area``. A party whose
    country is unknown (``None``) is never in the rule's country, and the words say so."""
    said = []
    local = True
    if area.country is not None:
        if country is None:
            local = False
            said.append(f"country unknown: not counted as in {area.country}")
        elif country.upper() != area.country.upper():
            local = False
            said.append(f"in {country}, not {area.country}")
        else:
            said.append(f"in {area.country}")
    if area.within_km is not None:
        if area.site is None:
            local = False
            said.append("no site to measure from")
        else:
            inside = distance_km(location, area.site) <= area.within_km
            local = local and inside
            said.append(f"{'within' if inside else 'beyond'} {area.within_km:g} km of the site")
    return Locality(local, "; ".join(said))
