"""A benchmark's results: a fixed-width table on stdout, a JSON document and a chart (PNG) in
``bench/results/``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "results"


@dataclass(frozen=True)
class Column:
    """A table column: its title and the cell of a row, both aligned to ``width``
    (``align``: ``<`` or ``>``); ``spec`` formats the cell, e.g. ``.1f`` or ``,``."""

    title: str
    width: int
    cell: Callable[[Any], object]
    align: str = ">"
    spec: str = ""


@dataclass(frozen=True)
class Table:
    """Columns joined by ``separator``, each line after ``indent``."""

    columns: Sequence[Column]
    separator: str = ""
    indent: str = ""

    def title(self) -> str:
        cells = (f"{c.title:{c.align}{c.width}}" for c in self.columns)
        return self.indent + self.separator.join(cells)

    def row(self, item: Any) -> str:
        cells = (f"{c.cell(item):{c.align}{c.width}{c.spec}}" for c in self.columns)
        return self.indent + self.separator.join(cells)

    def print(self, items: Iterable[Any], *, rule: bool = True) -> None:
        """The title, a rule under it, a line per item."""
        title = self.title()
        print(title)
        if rule:
            print("-" * len(title))
        for item in items:
            print(self.row(item))


def dash(value: object) -> object:
    """A cell with no value shows ``-``."""
    return "-" if value is None else value


def utc_stamp() -> str:
    """A results file's time stamp, e.g. ``20261206T224500Z``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_json(path: Path, document: object, indent: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=indent))
    return path


def write_results(
    stem: str,
    *,
    parameters: dict[str, Any],
    results: Sequence[Any],
    draw: Callable[[Path], None],
) -> None:
    """``bench/results/STEM-STAMP.json`` (the run's parameters, the CPU count and the result
    rows, each a dataclass) and, next to it, the chart ``draw`` makes (``.png``)."""
    document = {
        "parameters": parameters,
        "cpus": os.cpu_count(),
        "results": [asdict(row) for row in results],
    }
    stamp = utc_stamp()
    write_json(RESULTS / f"{stem}-{stamp}.json", document)
    draw(RESULTS / f"{stem}-{stamp}.png")
    print(f"\nwrote {RESULTS}/{stem}-{stamp}.json and .png")


def pyplot() -> Any:
    """matplotlib's pyplot drawing to files only (imported when a chart is drawn: a run that
    fails before its chart needs no matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grouped_bars(
    axis: Any, series: Sequence[tuple[str, Sequence[float]]], width: float = 0.8, **style: Any
) -> list[tuple[list[float], Any]]:
    """One bar per group and series, the series side by side within ``width`` around each
    group's position (0, 1, …); per series, its bars' positions and the bar container."""
    step = width / len(series)
    drawn = []
    for index, (label, values) in enumerate(series):
        positions = [x + (index - (len(series) - 1) / 2) * step for x in range(len(values))]
        drawn.append((positions, axis.bar(positions, values, step, label=label, **style)))
    return drawn


def save(figure: Any, path: Path, dpi: int) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    pyplot().close(figure)
