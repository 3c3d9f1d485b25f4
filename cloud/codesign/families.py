"""Product families as data: options, rules between them, and how a configuration becomes work.

A family is a YAML document (the coordinator ships ``cloud/codesign/catalogue/``) validated into
these models. All expressions are parsed when the family is loaded, and every name they use must
be an option, so a broken family fails at load time with the offending key, not when a customer
configures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cloud.codesign.expressions import Expression, ExpressionError, parse
from protocols.enums import ProcessKind

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
ExpressionText = str | int | float


class FamilyError(ValueError):
    """A product family file that cannot be loaded."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ChoiceOption(_Strict):
    id: Identifier
    label: str
    type: Literal["choice"]
    choices: Annotated[list[str], Field(min_length=1)]
    default: str
    help: str = ""

    @model_validator(mode="after")
    def _default_is_a_choice(self) -> ChoiceOption:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of {self.choices}")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices must be unique")
        return self


class NumberOption(_Strict):
    id: Identifier
    label: str
    type: Literal["number"]
    min: float
    max: float
    step: Annotated[float, Field(gt=0)] = 1.0
    unit: str = ""
    default: float
    help: str = ""

    @model_validator(mode="after")
    def _range_is_consistent(self) -> NumberOption:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside [{self.min}, {self.max}]")
        return self


class BooleanOption(_Strict):
    id: Identifier
    label: str
    type: Literal["boolean"]
    default: bool = False
    help: str = ""


class TextOption(_Strict):
    id: Identifier
    label: str
    type: Literal["text"]
    max_length: Annotated[int, Field(ge=1, le=2000)] = 200
    default: str = ""
    help: str = ""


Option = Annotated[
    ChoiceOption | NumberOption | BooleanOption | TextOption, Field(discriminator="type")
]


class Rule(_Strict):
    """``if`` (optional) → ``requires`` must hold / ``excludes`` must not hold; or a
    ``constraint`` that must always hold. ``message`` explains a violation in words."""

    id: Slug
    if_: ExpressionText | None = Field(default=None, alias="if")
    requires: ExpressionText | None = None
    excludes: ExpressionText | None = None
    constraint: ExpressionText | None = None
    message: str

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in (self.requires, self.excludes, self.constraint) if k is not None]
        if len(kinds) != 1:
            raise ValueError("a rule has exactly one of requires, excludes, constraint")
        if self.constraint is not None and self.if_ is not None:
            raise ValueError("a constraint rule has no 'if' (write the condition into it)")
        return self


class SetupTemplate(_Strict):
    """The change-over a machine needs before this step, by what it ran before: nothing after
    its own ``family`` (an expression giving a name: ``colour``, ``"'steel'"``), ``minutes``
    after any other family, or the minutes ``from`` names for a given one."""

    family: ExpressionText
    minutes: ExpressionText = 0
    from_: dict[str, ExpressionText] = Field(default_factory=dict, alias="from")


class OperatorNeed(_Strict):
    """An operator with ``skill`` attends the step: all of it, or its setup only."""

    skill: Identifier
    for_: Literal["all", "setup"] = Field(default="all", alias="for")


class OperationTemplate(_Strict):
    """One step of the routing: which process, how long, after which steps. ``duration_min``
    is the nominal time (scaled by a machine's speed factor); ``duration_min_on`` gives a
    machine's own time (``unit/machine``: minutes), measured or quoted by the plant."""

    id: Slug
    name: str
    process: ProcessKind
    duration_min: ExpressionText
    duration_min_on: dict[str, ExpressionText] = Field(default_factory=dict)
    setup: SetupTemplate | None = None
    operator: OperatorNeed | None = None
    when: ExpressionText | None = None
    after: list[Slug] = Field(default_factory=list)
    # Minimum value of a machine capability parameter, e.g. {max_payload_kg: "payload_kg"}.
    requires: dict[str, ExpressionText] = Field(default_factory=dict)
    certifications: list[str] = Field(default_factory=list)


class MaterialTemplate(_Strict):
    """A bill-of-materials line. ``steps``: the routing steps that consume it (a purchased
    material releases them when it arrives); none, or none included: the job's first steps."""

    item: Slug
    description: str
    quantity: ExpressionText
    unit: str = "pcs"
    unit_cost: ExpressionText = 0
    when: ExpressionText | None = None
    steps: list[Slug] = Field(default_factory=list)


class ProductFamily(_Strict):
    id: Slug
    name: str
    description: str = ""
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    options: Annotated[list[Option], Field(min_length=1)]
    rules: list[Rule] = Field(default_factory=list)
    routing: Annotated[list[OperationTemplate], Field(min_length=1)]
    materials: list[MaterialTemplate] = Field(default_factory=list)
    price: ExpressionText

    @model_validator(mode="after")
    def _references_resolve(self) -> ProductFamily:
        _check_unique("option", [option.id for option in self.options])
        _check_unique("rule", [rule.id for rule in self.rules])
        _check_unique("operation", [op.id for op in self.routing])
        known = {option.id for option in self.options}
        for where, text in self.expressions():
            try:
                expression = parse(text)
            except ExpressionError as exc:
                raise ValueError(f"{where}: {exc}") from exc
            unknown = expression.names - known
            if unknown:
                raise ValueError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
        _check_routing(self.routing)
        steps = {op.id for op in self.routing}
        for material in self.materials:
            strays = sorted(set(material.steps) - steps)
            if strays:
                raise ValueError(f"materials.{material.item}.steps: unknown step(s) {strays}")
        return self

    def expressions(self) -> list[tuple[str, ExpressionText]]:
        """Every expression in the family with where it stands (for error messages)."""
        found: list[tuple[str, ExpressionText | None]] = [("price", self.price)]
        for rule in self.rules:
            for key in ("if_", "requires", "excludes", "constraint"):
                found.append((f"rules.{rule.id}.{key.rstrip('_')}", getattr(rule, key)))
        for op in self.routing:
            found.append((f"routing.{op.id}.duration_min", op.duration_min))
            found.extend(
                (f"routing.{op.id}.duration_min_on.{k}", v) for k, v in op.duration_min_on.items()
            )
            if op.setup is not None:
                found.append((f"routing.{op.id}.setup.family", op.setup.family))
                found.append((f"routing.{op.id}.setup.minutes", op.setup.minutes))
                found.extend(
                    (f"routing.{op.id}.setup.from.{k}", v) for k, v in op.setup.from_.items()
                )
            found.append((f"routing.{op.id}.when", op.when))
            found.extend((f"routing.{op.id}.requires.{k}", v) for k, v in op.requires.items())
        for material in self.materials:
            for key in ("quantity", "unit_cost", "when"):
                found.append((f"materials.{material.item}.{key}", getattr(material, key)))
        return [(where, text) for where, text in found if text is not None]

    def option(self, option_id: str) -> ChoiceOption | NumberOption | BooleanOption | TextOption:
        for option in self.options:
            if option.id == option_id:
                return option
        raise KeyError(option_id)


def _check_unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} id {item!r}")
        seen.add(item)


def _check_routing(routing: list[OperationTemplate]) -> None:
    ids = {op.id for op in routing}
    for op in routing:
        missing = set(op.after) - ids
        if missing:
            raise ValueError(f"routing.{op.id}.after: unknown operation(s) {sorted(missing)}")
    # Kahn's algorithm: a precedence cycle leaves operations that never become free.
    remaining = {op.id: set(op.after) for op in routing}
    while True:
        free = [op_id for op_id, before in remaining.items() if not before]
        if not free:
            break
        for op_id in free:
            del remaining[op_id]
        for before in remaining.values():
            before.difference_update(free)
    if remaining:
        raise ValueError(f"routing has a precedence cycle through {sorted(remaining)}")


def compiled(text: ExpressionText) -> Expression:
    return parse(text)


def load_family(path: Path) -> ProductFamily:
    """Load and validate one family file; errors name the file and the offending key."""
    try:
        data: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FamilyError(f"{path}: cannot read: {exc}") from exc
    try:
        return ProductFamily.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'family'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise FamilyError(f"{path}: {details}") from exc


def load_families(directory: Path) -> dict[str, ProductFamily]:
    families: dict[str, ProductFamily] = {}
    for path in sorted(directory.glob("*.yaml")):
        family = load_family(path)
        if family.id in families:
            raise FamilyError(f"{path}: family id {family.id!r} is defined twice")
        families[family.id] = family
    return families
