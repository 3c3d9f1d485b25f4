"""Maintenance settings (part of the coordinator's settings) and the policy they make."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from cloud.maintenance import routing
from cloud.maintenance.escalation import EscalationPolicy
from cloud.maintenance.rules import DEFAULT_RULES, RollupRule
from cloud.maintenance.visits.problem import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_VISIT_MINUTES,
    RouteOptions,
)
from cloud.messaging.models import RetryPolicy

DEFAULT_TICK_SECONDS = 5.0
DEFAULT_PERIODIC_CHECK_SECONDS = 60.0
PriorityName = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[PriorityName, ...] = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class ServiceLevel:
    """What a customer's contract promises: the time to resolve a ticket by priority, and how
    far the contract moves a ticket's priority from the one its severity gives (-1: one higher)."""

    due: Mapping[str, timedelta]
    priority_shift: int = 0


def _hours(p1: float, p2: float, p3: float, p4: float) -> Mapping[str, timedelta]:
    return MappingProxyType(
        {
            name: timedelta(hours=h)
            for name, h in zip(("P1", "P2", "P3", "P4"), (p1, p2, p3, p4), strict=True)
        }
    )


DEFAULT_SERVICE_LEVEL = "standard"
"""The level of an asset whose static data names none (or one the policy does not know)."""
DEFAULT_SERVICE_LEVELS: Mapping[str, ServiceLevel] = MappingProxyType(
    {
        "premium": ServiceLevel(_hours(4, 8, 24, 72), priority_shift=-1),
        "standard": ServiceLevel(_hours(8, 24, 72, 7 * 24)),
        "basic": ServiceLevel(_hours(24, 72, 7 * 24, 14 * 24), priority_shift=1),
    }
)
DEFAULT_SKILL = "mechanical"
DEFAULT_SKILL_BY_CODE: Mapping[str, str] = MappingProxyType(
    {
        "overheat": "mechanical",
        "high_vibration": "mechanical",
        "tool_wear": "mechanical",
        "breakdown": "mechanical",
        "emergency_stop": "electrical",
    }
)
"""The skill an alarm's ticket needs, by alarm code (others need :data:`DEFAULT_SKILL`)."""


DEFAULT_BREAKDOWN_SEVERITY = 800
"""The alarm severity (OPC UA, 1 to 1000) from which an asset counts as broken down: the
critical level (a breakdown, an emergency stop). Warnings and minor alarms open tickets too, but
the asset still runs, so they are not failures in the figures."""


@dataclass(frozen=True)
class MaintenancePolicy:
    """The delays of routing, escalation and delivery."""

    group_window: timedelta = routing.DEFAULT_GROUP_WINDOW
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    inhibit_rules: tuple[routing.InhibitRule, ...] = routing.DEFAULT_INHIBIT_RULES
    rule_budget: timedelta = routing.DEFAULT_RULE_BUDGET
    max_attempts: int = 6
    retry_base: timedelta = timedelta(seconds=2)
    retry_max: timedelta = timedelta(minutes=5)
    routes: RouteOptions = field(default_factory=RouteOptions)
    service_levels: Mapping[str, ServiceLevel] = field(
        default_factory=lambda: dict(DEFAULT_SERVICE_LEVELS)
    )
    skill_by_code: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SKILL_BY_CODE))
    default_skill: str = DEFAULT_SKILL
    breakdown_severity: int = DEFAULT_BREAKDOWN_SEVERITY

    def service_level(self, name: str) -> ServiceLevel:
        """The named level, or the default one for a name the policy does not know."""
        return self.service_levels.get(name) or self.service_levels[DEFAULT_SERVICE_LEVEL]

    def skill_for(self, code: str) -> str:
        return self.skill_by_code.get(code, self.default_skill)

    def delivery(self) -> RetryPolicy:
        """How the outbox retries maintenance's webhooks (and backs off for MQTT)."""
        return RetryPolicy(
            max_attempts=self.max_attempts, retry_base=self.retry_base, retry_max=self.retry_max
        )


Hours = Annotated[float, Field(gt=0, le=24 * 366)]


class ServiceLevelSettings(BaseModel):
    """A service level in the settings: hours to resolve by priority, and the priority shift."""

    due_hours: dict[PriorityName, Hours]
    priority_shift: int = Field(default=0, ge=-3, le=3)

    @model_validator(mode="after")
    def _every_priority(self) -> ServiceLevelSettings:
        missing = set(PRIORITIES) - set(self.due_hours)
        if missing:
            raise ValueError(f"due_hours lacks {', '.join(sorted(missing))}")
        return self

    @classmethod
    def of(cls, level: ServiceLevel) -> ServiceLevelSettings:
        hours = {name: due.total_seconds() / 3600 for name, due in level.due.items()}
        return cls(due_hours=hours, priority_shift=level.priority_shift)  # type: ignore[arg-type]

    def level(self) -> ServiceLevel:
        due: dict[str, timedelta] = {n: timedelta(hours=h) for n, h in self.due_hours.items()}
        return ServiceLevel(due, self.priority_shift)


class MaintenanceSettings(BaseModel):
    enabled: bool = True
    group_window_minutes: float = Field(default=10, gt=0)
    remind_every_minutes: float = Field(default=15, gt=0)
    escalate_after_minutes: float = Field(default=30, gt=0)
    coordinator_after_minutes: float = Field(default=60, gt=0)
    rule_budget_ms: float = Field(
        default=routing.DEFAULT_RULE_BUDGET.total_seconds() * 1000,
        gt=0,
        description="CPU time one alert's silences and inhibition rules may take; past it the"
        " alert is routed unsuppressed, logged and counted",
    )
    webhook_max_attempts: int = Field(default=6, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=2, gt=0)
    webhook_timeout_seconds: float = Field(default=5, gt=0)
    tick_seconds: float = Field(default=DEFAULT_TICK_SECONDS, gt=0)
    periodic_check_seconds: float = Field(
        default=DEFAULT_PERIODIC_CHECK_SECONDS,
        gt=0,
        description="how often preventive plans and rollup rules are evaluated",
    )
    rules: list[RollupRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    visit_minutes: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_VISIT_MINUTES),
        description="how long a technician's visit takes, by ticket kind",
    )
    route_horizon_days: int = Field(default=DEFAULT_HORIZON_DAYS, ge=1, le=14)
    route_solve_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="the route planner's time limit: 50 ms per visit to plan, up to this",
    )
    visit_overrun_minutes: float = Field(
        default=30,
        gt=0,
        description="how much longer a visit past its planned end is expected to take",
    )
    service_levels: dict[str, ServiceLevelSettings] = Field(
        default_factory=lambda: {
            name: ServiceLevelSettings.of(level) for name, level in DEFAULT_SERVICE_LEVELS.items()
        },
        description="the customers' service levels (an asset's static data names its level);"
        f" {DEFAULT_SERVICE_LEVEL!r} is the level of assets that name none",
    )
    skill_by_code: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SKILL_BY_CODE),
        description="the skill an alarm's ticket needs, by alarm code",
    )
    default_skill: str = Field(default=DEFAULT_SKILL, min_length=1, max_length=200)
    breakdown_severity: int = Field(
        default=DEFAULT_BREAKDOWN_SEVERITY,
        ge=1,
        le=1000,
        description="the alarm severity from which an asset counts as broken down (a failure in"
        " the figures, down from then until its ticket is resolved)",
    )

    @model_validator(mode="after")
    def _has_the_default_level(self) -> MaintenanceSettings:
        if DEFAULT_SERVICE_LEVEL not in self.service_levels:
            raise ValueError(f"service_levels needs the {DEFAULT_SERVICE_LEVEL!r} level")
        return self

    def policy(self) -> MaintenancePolicy:
        return MaintenancePolicy(
            group_window=timedelta(minutes=self.group_window_minutes),
            escalation=EscalationPolicy(
                remind_every=timedelta(minutes=self.remind_every_minutes),
                escalate_after=timedelta(minutes=self.escalate_after_minutes),
                coordinator_after=timedelta(minutes=self.coordinator_after_minutes),
            ),
            rule_budget=timedelta(milliseconds=self.rule_budget_ms),
            max_attempts=self.webhook_max_attempts,
            retry_base=timedelta(seconds=self.webhook_retry_base_seconds),
            routes=RouteOptions(
                visit_minutes=self.visit_minutes,
                horizon_days=self.route_horizon_days,
                solve_time=timedelta(seconds=self.route_solve_seconds),
                overrun=timedelta(minutes=self.visit_overrun_minutes),
            ),
            service_levels={name: level.level() for name, level in self.service_levels.items()},
            skill_by_code=dict(self.skill_by_code),
            default_skill=self.default_skill,
            breakdown_severity=self.breakdown_severity,
        )


DEFAULT_POLICY = MaintenancePolicy()
