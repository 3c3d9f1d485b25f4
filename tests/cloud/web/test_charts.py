"""The charts' one layer: a domain shapes the data (scales, points), the macros of
``cloud/web/templates/_charts.html`` draw it as SVG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from cloud.maintenance.charts import Bar, bar_chart
from cloud.telemetry import charts
from cloud.telemetry.models import RollupRead, SampleRead
from cloud.web.templating import templates

draw = templates.get_template("_charts.html").module  # the macros, as the pages import them


def test_rollup_chart_draws_the_range_as_a_band_and_the_mean_as_a_line() -> None:
    since = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    figures = [(0, 10.0, 15.0, 20.0), (5, 0.0, 5.0, 10.0), (10, 20.0, 25.0, 30.0)]
    rollups = [
        RollupRead(
            metric="t",
            minute=since + timedelta(minutes=m),
            count=2,
            min=lo,
            mean=mean,
            max=hi,
            last=mean,
        )
        for m, lo, mean, hi in figures
    ]
    svg = ElementTree.fromstring(
        draw.rollup_chart(
            charts.rollup_chart("t<1>", rollups, since=since, until=since + timedelta(minutes=10))
        )
    )
    namespace = {"svg": "http://www.w3.org/2000/svg"}

    def points(tag: str) -> list[tuple[float, float]]:
        element = svg.find(f"svg:{tag}", namespace)
        assert element is not None
        return [tuple(map(float, p.split(","))) for p in element.attrib["points"].split()]

    width = charts.WIDTH - charts.LEFT - charts.RIGHT
    height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    xs = [charts.LEFT, charts.LEFT + width / 2, charts.LEFT + width]

    def y(value: float) -> float:  # 0 at the bottom, 30 (the highest max) at the top
        return round(charts.TOP + height * (30 - value) / 30, 1)

    assert points("polyline") == [
        (round(x, 1), y(mean)) for x, (_, _, mean, _) in zip(xs, figures, strict=True)
    ]
    band = points("polygon")
    assert band[:3] == [(round(x, 1), y(hi)) for x, (*_, hi) in zip(xs, figures, strict=True)]
    assert band[3:] == [
        (round(x, 1), y(lo)) for x, (_, lo, _, _) in reversed(list(zip(xs, figures, strict=True)))
    ]
    assert svg.attrib["data-metric"] == "t<1>"  # escaped in the markup, parsed back
    tips = [
        c.findtext("svg:title", namespaces=namespace)
        for c in svg.iter(f"{{{namespace['svg']}}}circle")
    ]
    assert tips[1] == "12:05 UTC: mean 5, min 0, max 10, last 5 (2 samples)"
    empty = draw.rollup_chart(
        charts.rollup_chart("t", [], since=since, until=since + timedelta(minutes=10))
    )
    assert "no data" in empty


def test_charts_escape_labels_and_mark_missing_values():
    svg = draw.bar_chart(
        bar_chart("<b>", [Bar("a&b", 50.0), Bar("none", None), Bar("you", 100.0, True)])
    )
    assert svg.startswith("<svg") and "<b>" not in svg and "&lt;b&gt;" in svg
    assert "a&amp;b" in svg and "no data" in svg and "#e76f51" in svg


def test_a_short_window_is_fitted_to_its_data_and_drawn_in_steps_of_raw_samples() -> None:
    until = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    hour_ago = until - timedelta(hours=1)
    assert charts.fitted_since(hour_ago, until, None) == hour_ago
    assert charts.fitted_since(hour_ago, until, until - timedelta(minutes=5)) == until - timedelta(
        minutes=5
    )
    assert charts.fitted_since(hour_ago, until, until) == until - charts.MIN_SPAN
    since = until - timedelta(minutes=5)
    samples = [
        SampleRead(metric="t", time=since + timedelta(seconds=s), value=v, quality="good")
        for s, v in ((1, 1.0), (4, 3), (12, 2.0), (13, True), (14, "jam"))
    ]
    folded = charts.buckets(samples, since=since, width=timedelta(seconds=10))
    assert [(r.minute, r.count, r.min, r.mean, r.max, r.last) for r in folded] == [
        (since, 2, 1.0, 2.0, 3.0, 3.0),
        (since + timedelta(seconds=10), 1, 2.0, 2.0, 2.0, 2.0),
    ]
