"""How the pages write values: numbers with their unit at a sensible precision, enums and
severities as words, configuration values as words, times as ``<time>`` elements. Every
template uses these (registered as Jinja filters by :mod:`cloud.web.templating`), so no page
shows a Python repr (``True``, ``None``, ``{'…``), a raw enum value (``NotExecuting``,
``in_production``) or a float in e-notation (``1.36e-25``).

Times: written server-side in UTC with the zone shown (``07 Dec 14:05 UTC``), inside a
``<time datetime="…Z">`` element that the layout's one script rewrites in the viewer's zone,
with that zone's name (``07 Dec 15:05 CET``). The same script offers ``glonet.word`` and
``glonet.number`` to the pages' live updates, from :data:`WORDS` and the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from markupsafe import Markup, escape

from protocols.enums import MachineryItemState, MachineryOperationMode

MISSING = "\u2013"
"""What a page shows for no value (``None``, an empty text): an en dash."""

WORDS: Mapping[str, str] = {
    MachineryItemState.NOT_AVAILABLE: "not available",
    MachineryItemState.OUT_OF_SERVICE: "out of service",
    MachineryItemState.NOT_EXECUTING: "idle",
    MachineryItemState.EXECUTING: "executing",
    MachineryOperationMode.NONE: "no mode",
}
"""Enum values whose words are not just the value split (``in_production`` → "in production",
``AllowedToStart`` → "allowed to start")."""

SIGNIFICANT = 3
ZERO_BELOW = 0.0005
"""A measured value this close to 0 is shown as 0: at three significant figures and three
decimals at most, ``1.36e-25`` bar is no pressure at all."""

_CAMEL = re.compile(r"^[A-Z][a-z]+(?:[A-Z][a-z]*)*$")
_CAMEL_PART = re.compile(r"[A-Z][a-z]*")


def word(value: Any) -> str:
    """An enum value (or its member) as words: ``NotExecuting`` → "idle", ``in_production`` →
    "in production", ``AllowedToStart`` → "allowed to start"; other texts unchanged."""
    if value is None or value == "":
        return MISSING
    text = str(value.value if isinstance(value, Enum) else value)
    if text in WORDS:
        return WORDS[text]
    if "_" in text:
        return text.replace("_", " ")
    if _CAMEL.match(text):
        return " ".join(part.lower() for part in _CAMEL_PART.findall(text))
    return text


SEVERITY_BANDS = ((800, "critical"), (600, "major"), (400, "minor"), (200, "warning"), (1, "info"))
"""The OPC UA severity (1 to 1000) in the five levels people use (as
:func:`cloud.maintenance.routing.severity_level` routes alerts)."""


def severity(value: Any) -> str:
    """An OPC UA severity (a number, or its text) as its level's word: 1000 → "critical"."""
    try:
        number = int(str(value))
    except ValueError:
        return word(value)
    return next((name for floor, name in SEVERITY_BANDS if number >= floor), "info")


def number(value: Any) -> str:
    """A number for reading: three significant figures, at most three decimals, thousands
    grouped, never e-notation (1234.5 → "1,235", 1.2345 → "1.23", 0.012345 → "0.012",
    1.36e-25 → "0");
    booleans as yes/no, no value as "—", texts unchanged."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return MISSING
    if abs(value) < ZERO_BELOW:
        return "0"
    if abs(value) >= 10 ** (SIGNIFICANT - 1):
        return f"{round(value):,}"
    rounded = Decimal(f"{value:.{SIGNIFICANT}g}")
    decimals = min(max(-rounded.as_tuple().exponent, 0), 3)  # type: ignore[operator]
    return f"{float(rounded):,.{decimals}f}"


def quantity(value: Any, unit: str | None = "") -> str:
    """A value with its unit (from the unit's birth): ``21.4 °C``, ``12 %``, ``yes``."""
    shown = number(value)
    if (
        not unit
        or shown == MISSING
        or isinstance(value, bool)
        or not isinstance(value, int | float)
    ):
        return shown
    return f"{shown}{'' if unit == '%' else ' '}{unit}"


DURATION_UNITS = ((3600.0, "hour"), (60.0, "minute"), (1.0, "second"))


def hours(value: Any) -> str:
    """A duration given in hours, in the largest unit it fills: "4 hours", "1 hour", "30
    minutes", "24 seconds" (a service time of a time-compressed demo is seconds long)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    seconds = value * 3600
    size, name = next(
        ((size, name) for size, name in DURATION_UNITS if abs(seconds) >= size), (1.0, "second")
    )
    shown = number(seconds / size)
    return f"{shown} {name}{'' if shown == '1' else 's'}"


def setting(value: Any) -> str:
    """A configuration value as words: booleans yes/no, an empty text "—", numbers as
    :func:`number`, a list joined, a choice's identifier as words."""
    if isinstance(value, list | tuple):
        return ", ".join(setting(item) for item in value) or MISSING
    if isinstance(value, str):
        return word(value)
    return number(value)


TIME_STYLES = {
    "datetime": "%d %b %H:%M",
    "seconds": "%d %b %H:%M:%S",
    "time": "%H:%M",
    "clock": "%H:%M:%S",
    "date": "%a %d %b",
    "full": "%Y-%m-%d %H:%M",
}
"""How a time is written, by style; the layout's script writes the same fields in the
viewer's zone."""


def iso(value: datetime) -> str:
    """The API's and the ``<time>`` element's form: ISO 8601 in UTC, ending in ``Z``."""
    if value.tzinfo is None:  # stored times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def when(value: datetime | None, style: str = "datetime") -> Markup | str:
    """``<time datetime="…Z" data-style="…">07 Dec 14:05 UTC</time>``, or "—" for no time."""
    if value is None:
        return MISSING
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    shown = f"{utc.strftime(TIME_STYLES[style])} UTC"
    return Markup('<time datetime="{}" data-style="{}">{}</time>').format(
        iso(utc), style, escape(shown)
    )


FILTERS = {
    "word": word,
    "severity": severity,
    "number": number,
    "text": number,  # any value for reading: an identifier or a name as it is, no value "—"
    "quantity": quantity,
    "hours": hours,
    "setting": setting,
    "when": when,
    "iso": iso,
}
