"""Check a configuration against its family, say what is still allowed, and turn it into work.

- :func:`validate` fills defaults, checks every value against its option and every rule, and
  explains each problem in words.
- :func:`allowed_values` answers, for every option, which values remain possible given the
  other options' current values, so a configurator page can grey out the rest.
- :func:`work_breakdown` turns a valid configuration into operations (with precedence, durations
  and capability requirements), a bill of materials and a price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cloud.codesign.expressions import Expression, ExpressionError, Value, parse
from cloud.codesign.families import (
    BooleanOption,
    ChoiceOption,
    ExpressionText,
    NumberOption,
    OperationTemplate,
    ProductFamily,
    Rule,
    TextOption,
)

MAX_NUMBER_CANDIDATES = 2000


@dataclass(frozen=True)
class Problem:
    """Why a configuration is not valid, in words; ``option``/``rule`` say where."""

    message: str
    option: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Validation:
    values: dict[str, Value]
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Allowed:
    """Allowed values of one option: ``values`` for choices/booleans, ``ranges`` for numbers."""

    option: str
    values: list[Value] | None = None
    ranges: list[tuple[float, float]] | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class PlannedOperation:
    id: str
    name: str
    process: str
    duration_min: float
    predecessors: list[str]
    capability_requirements: dict[str, float] = field(default_factory=dict)
    certifications: list[str] = field(default_factory=list)
    # A machine's own time (unit/machine: minutes), instead of nominal x speed factor.
    duration_min_on: dict[str, float] = field(default_factory=dict)
    # Setup family, and the change-over minutes before this step by the family run before
    # ("*": any other family).
    setup_family: str | None = None
    setup_min: dict[str, float] = field(default_factory=dict)
    # The operator skill the step needs, for all of it or its setup only.
    operator_skill: str | None = None
    attended: str = "all"


@dataclass(frozen=True)
class MaterialLine:
    item: str
    description: str
    quantity: float
    unit: str
    unit_cost: float
    # The steps that consume it (empty: the job's first steps).
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkBreakdown:
    operations: list[PlannedOperation]
    materials: list[MaterialLine]
    price: float
    currency: str

    @property
    def total_duration_min(self) -> float:
        return sum(op.duration_min for op in self.operations)


class InvalidConfiguration(ValueError):
    """A configuration that cannot be turned into work (it is invalid)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@cache
def _expression(text: ExpressionText) -> Expression:
    return parse(text)


def validate(family: ProductFamily, values: Mapping[str, Any]) -> Validation:
    """Check ``values`` (missing options take their defaults) against options and rules."""
    problems: list[Problem] = []
    known = {option.id for option in family.options}
    for name in sorted(set(values) - known):
        problems.append(Problem(f"{name!r} is not an option of {family.name}", option=name))
    resolved: dict[str, Value] = {}
    for option in family.options:
        raw = values.get(option.id, option.default)
        value, problem = _check_option(option, raw)
        resolved[option.id] = value
        if problem:
            problems.append(Problem(problem, option=option.id))
    if not problems:
        problems.extend(_rule_problems(family, resolved))
    return Validation(resolved, problems)


def _rule_problems(family: ProductFamily, values: Mapping[str, Value]) -> list[Problem]:
    return [
        Problem(message, rule=rule.id)
        for rule in family.rules
        if (message := _violation(rule, values)) is not None
    ]


def _violation(rule: Rule, values: Mapping[str, Value]) -> str | None:
    """The rule's message if ``values`` break it, else ``None``."""
    try:
        if rule.constraint is not None:
            return None if _expression(rule.constraint).truth(values) else rule.message
        if rule.if_ is not None and not _expression(rule.if_).truth(values):
            return None
        if rule.requires is not None:
            return None if _expression(rule.requires).truth(values) else rule.message
        assert rule.excludes is not None
        return rule.message if _expression(rule.excludes).truth(values) else None
    except ExpressionError as exc:
        return f"{rule.message} (rule {rule.id} cannot be checked: {exc})"


def _check_option(
    option: ChoiceOption | NumberOption | BooleanOption | TextOption, raw: Any
) -> tuple[Value, str | None]:
    label = option.label
    if isinstance(option, ChoiceOption):
        if not isinstance(raw, str) or raw not in option.choices:
            return option.default, f"{label}: {raw!r} is not one of {', '.join(option.choices)}"
        return raw, None
    if isinstance(option, BooleanOption):
        if not isinstance(raw, bool):
            return option.default, f"{label}: {raw!r} is not yes/no"
        return raw, None
    if isinstance(option, TextOption):
        if not isinstance(raw, str):
            return option.default, f"{label}: {raw!r} is not text"
        if len(raw) > option.max_length:
            return raw[: option.max_length], f"{label}: longer than {option.max_length} characters"
        return raw, None
    return _check_number(option, raw)


def _check_number(option: NumberOption, raw: Any) -> tuple[Value, str | None]:
    label = option.label
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return option.default, f"{label}: {raw!r} is not a number"
    unit = f" {option.unit}" if option.unit else ""
    if not option.min <= raw <= option.max:
        return raw, f"{label}: {raw:g}{unit} is outside {option.min:g} to {option.max:g}{unit}"
    steps = (raw - option.min) / option.step
    if abs(steps - round(steps)) > 1e-6:
        return (
            raw,
            f"{label}: {raw:g}{unit} is not {option.min:g}{unit} plus a multiple of"
            f" {option.step:g}{unit}",
        )
    return raw, None


def allowed_values(family: ProductFamily, values: Mapping[str, Any]) -> dict[str, Allowed]:
    """For every option, the values that break no rule given the other options' values."""
    base = validate(family, {k: v for k, v in values.items() if _is_option(family, k)}).values
    result: dict[str, Allowed] = {}
    for option in family.options:
        relevant = [rule for rule in family.rules if option.id in _rule_names(rule)]
        if isinstance(option, TextOption):
            result[option.id] = Allowed(option.id, max_length=option.max_length)
            continue
        candidates = _candidates(option)
        ok = _not_conflicting(relevant, base, option.id, candidates)
        if isinstance(option, NumberOption):
            result[option.id] = Allowed(option.id, ranges=_as_ranges(option, ok))
        else:
            result[option.id] = Allowed(option.id, values=ok)
    return result


def _is_option(family: ProductFamily, name: str) -> bool:
    return any(option.id == name for option in family.options)


@cache
def _rule_names_cached(rule: Rule) -> frozenset[str]:
    names: set[str] = set()
    for text in (rule.if_, rule.requires, rule.excludes, rule.constraint):
        if text is not None:
            names |= _expression(text).names
    return frozenset(names)


def _rule_names(rule: Rule) -> frozenset[str]:
    return _rule_names_cached(rule)


def _candidates(option: ChoiceOption | NumberOption | BooleanOption) -> list[Value]:
    if isinstance(option, ChoiceOption):
        return list(option.choices)
    if isinstance(option, BooleanOption):
        return [False, True]
    count = math.floor((option.max - option.min) / option.step + 1e-9) + 1
    stride = max(1, math.ceil(count / MAX_NUMBER_CANDIDATES))
    numbers = [_round(option.min + i * option.step) for i in range(0, count, stride)]
    if numbers[-1] != _round(option.min + (count - 1) * option.step):
        numbers.append(_round(option.min + (count - 1) * option.step))
    return list(numbers)


def _round(number: float) -> float | int:
    rounded = round(number, 9)
    return int(rounded) if rounded == int(rounded) else rounded


def _not_conflicting(
    rules: list[Rule], base: Mapping[str, Value], option_id: str, candidates: list[Value]
) -> list[Value]:
    """Candidates that break no rule this option could satisfy.

    A rule broken whatever this option's value is (because of the other options) does not
    grey out any of its values: changing this option cannot fix it.
    """
    excluded: set[int] = set()
    for rule in rules:
        broken = {
            index
            for index, value in enumerate(candidates)
            if _violation(rule, {**base, option_id: value}) is not None
        }
        if len(broken) < len(candidates):
            excluded |= broken
    return [value for index, value in enumerate(candidates) if index not in excluded]


def _as_ranges(option: NumberOption, ok: list[Value]) -> list[tuple[float, float]]:
    """Compress allowed grid points into closed ranges of consecutive points."""
    grid = _candidates(option)
    allowed = set(ok)
    ranges: list[tuple[float, float]] = []
    start: float | None = None
    previous: float | None = None
    for point in grid:
        assert isinstance(point, int | float)
        if point in allowed:
            start = point if start is None else start
            previous = point
        elif start is not None and previous is not None:
            ranges.append((float(start), float(previous)))
            start = None
    if start is not None and previous is not None:
        ranges.append((float(start), float(previous)))
    return ranges


def _positive(where: str, text: ExpressionText, values: Mapping[str, Value]) -> float:
    minutes = _expression(text).number(values)
    if minutes <= 0:
        raise ExpressionError(f"{where} gave {minutes:g} minutes")
    return round(minutes, 3)


def _setup(op: OperationTemplate, values: Mapping[str, Value]) -> dict[str, Any]:
    if op.setup is None:
        return {}
    minutes = {"*": _expression(op.setup.minutes).number(values)}
    minutes |= {name: _expression(text).number(values) for name, text in op.setup.from_.items()}
    if min(minutes.values()) < 0:
        raise ExpressionError(f"routing.{op.id}.setup gave a negative setup")
    return {
        "setup_family": str(_expression(op.setup.family).evaluate(values)),
        "setup_min": {name: round(m, 3) for name, m in minutes.items()},
    }


def work_breakdown(family: ProductFamily, values: Mapping[str, Any]) -> WorkBreakdown:
    """Operations, bill of materials and price of a valid configuration."""
    validation = validate(family, values)
    if not validation.valid:
        raise InvalidConfiguration(validation.problems)
    resolved = validation.values
    try:
        operations = _operations(family, resolved)
        return WorkBreakdown(
            operations=operations,
            materials=_materials(family, resolved, {op.id for op in operations}),
            price=round(_expression(family.price).number(resolved), 2),
            currency=family.currency,
        )
    except ExpressionError as exc:
        raise InvalidConfiguration([Problem(f"{family.name} cannot be costed: {exc}")]) from exc


def _operations(family: ProductFamily, values: Mapping[str, Value]) -> list[PlannedOperation]:
    included = {
        op.id for op in family.routing if op.when is None or _expression(op.when).truth(values)
    }
    by_id = {op.id: op for op in family.routing}

    def predecessors(op_id: str) -> list[str]:
        # An excluded step passes its own predecessors on, so the precedence chain stays intact.
        found: list[str] = []
        for before in by_id[op_id].after:
            for item in [before] if before in included else predecessors(before):
                if item not in found:
                    found.append(item)
        return found

    operations = []
    for op in family.routing:
        if op.id not in included:
            continue
        duration = _expression(op.duration_min).number(values)
        if duration <= 0:
            raise ExpressionError(f"routing.{op.id}.duration_min gave {duration:g} minutes")
        operations.append(
            PlannedOperation(
                id=op.id,
                name=op.name,
                process=op.process.value,
                duration_min=round(duration, 3),
                predecessors=predecessors(op.id),
                capability_requirements={
                    key: _expression(text).number(values) for key, text in op.requires.items()
                },
                certifications=list(op.certifications),
                duration_min_on={
                    key: _positive(f"routing.{op.id}.duration_min_on.{key}", text, values)
                    for key, text in op.duration_min_on.items()
                },
                **_setup(op, values),
                operator_skill=None if op.operator is None else op.operator.skill,
                attended="all" if op.operator is None else op.operator.for_,
            )
        )
    return operations


def _materials(
    family: ProductFamily, values: Mapping[str, Value], included: set[str]
) -> list[MaterialLine]:
    lines = []
    for material in family.materials:
        if material.when is not None and not _expression(material.when).truth(values):
            continue
        quantity = _expression(material.quantity).number(values)
        if quantity <= 0:
            continue
        lines.append(
            MaterialLine(
                item=material.item,
                description=material.description,
                quantity=round(quantity, 3),
                unit=material.unit,
                unit_cost=_expression(material.unit_cost).number(values),
                steps=[step for step in material.steps if step in included],
            )
        )
    return lines
