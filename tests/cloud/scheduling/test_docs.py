"""The example in docs/scheduling.md runs and gives a valid schedule."""

from __future__ import annotations

import re
from pathlib import Path

from cloud.scheduling import Objective, Problem, Schedule, validate_schedule

DOC = Path(__file__).resolve().parents[3] / "docs" / "scheduling.md"


def test_model_example_runs() -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)
    schedule, problem = namespace["schedule"], namespace["problem"]
    assert isinstance(schedule, Schedule) and isinstance(problem, Problem)
    validate_schedule(problem, schedule, objective=Objective(makespan=1, weighted_tardiness=5))
