"""Maintenance settings (part of the coordinator's settings) and the policy they make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import BaseModel, Field

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

    def delivery(self) -> RetryPolicy:
        """How the outbox retries maintenance's webhooks (and backs off for MQTT)."""
        return RetryPolicy(
            max_attempts=self.max_attempts, retry_base=self.retry_base, retry_max=self.retry_max
        )


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
        )
