"""The pages' words and numbers (cloud.web.formats): what a person reads for a raw value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cloud.orders.models import OrderStatus
from cloud.web import formats
from protocols.enums import JobOrderState, MachineryItemState, MachineryOperationMode


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.36e-25, "0"),
        (-2e-9, "0"),
        (0.012345, "0.012"),
        (1.2345, "1.23"),
        (21.437, "21.4"),
        (999.6, "1,000"),
        (1234.5, "1,234"),
        (3e12, "3,000,000,000,000"),
        (1.0, "1"),
        (7, "7"),
        (1234567, "1,234,567"),
        (True, "yes"),
        (False, "no"),
        (None, "\u2013"),
        ("", "\u2013"),
        (float("nan"), "\u2013"),
        ("P-7", "P-7"),
    ],
)
def test_numbers_read_at_three_significant_figures_without_e_notation(
    value: object, shown: str
) -> None:
    assert formats.number(value) == shown


def test_a_value_carries_its_unit() -> None:
    assert formats.quantity(1.36e-25, "bar") == "0 bar"
    assert formats.quantity(21.437, "°C") == "21.4 °C"
    assert formats.quantity(42, "%") == "42%"
    assert formats.quantity(None, "bar") == "\u2013"
    assert formats.quantity("jammed", "bar") == "jammed"
    assert formats.quantity(3.0, "") == "3"


def test_a_duration_in_hours_reads_in_the_unit_it_fills() -> None:
    assert formats.hours(4) == "4 hours"
    assert formats.hours(1.0) == "1 hour"
    assert formats.hours(1.5) == "1.5 hours"
    assert formats.hours(0.5) == "30 minutes"
    assert formats.hours(8 / 1200) == "24 seconds"  # the demo's response time at 1200x
    assert formats.hours(None) == formats.hours(float("inf")) == "\u2013"


def test_enums_and_severities_are_words() -> None:
    assert formats.word(MachineryItemState.NOT_EXECUTING) == "idle"
    assert formats.word("OutOfService") == "out of service"
    assert formats.word(MachineryOperationMode.NONE) == "no mode"
    assert formats.word(OrderStatus.IN_PRODUCTION) == "in production"
    assert formats.word(JobOrderState.ALLOWED_TO_START) == "allowed to start"
    assert formats.word("P1") == "P1"
    assert formats.word(None) == "\u2013"
    assert [formats.severity(s) for s in (1000, "800", 700, 450, 250, 1)] == [
        "critical",
        "critical",
        "major",
        "minor",
        "warning",
        "info",
    ]


def test_configuration_values_are_words() -> None:
    assert formats.setting(True) == "yes"
    assert formats.setting("") == "\u2013"
    assert formats.setting("light_curtain") == "light curtain"
    assert formats.setting(12) == "12"


def test_a_time_is_an_element_in_utc_that_names_its_zone() -> None:
    rome = timezone(timedelta(hours=1))
    shown = formats.when(datetime(2026, 12, 7, 15, 5, 9, tzinfo=rome), "seconds")
    assert shown == (
        '<time datetime="2026-12-07T14:05:09Z" data-style="seconds">07 Dec 14:05:09 UTC</time>'
    )
    assert formats.when(None) == "\u2013"
    assert formats.iso(datetime(2026, 12, 7, 14, 5, tzinfo=UTC)) == "2026-12-07T14:05:00Z"
