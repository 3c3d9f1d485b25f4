"""The plan as a Gantt chart: rows per plant and machine, bars per operation, drawn as SVG.

Server-rendered (no front-end build): the page swaps the SVG in on every live plan event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.dispatch import service
from cloud.dispatch.models import Gantt, GanttBar, GanttRow
from cloud.orders.models import OperationStatus, Order, OrderOperation
from cloud.registry.models import Machine, Unit

ROW_HEIGHT = 26
LABEL_WIDTH = 210
CHART_WIDTH = 900
HEADER = 28
COLOURS = {
    OperationStatus.PLANNED.value: "#9db4d0",
    OperationStatus.DISPATCHED.value: "#f2c14e",
    OperationStatus.ACCEPTED.value: "#f2c14e",
    OperationStatus.RUNNING.value: "#2a9d8f",
    OperationStatus.ENDED.value: "#6b7785",
}
SETUP_COLOUR = "#e0d7c6"  # a change-over: machine work, but not the order's
MAX_PAST = timedelta(minutes=30)


def build(*, session: Session, actor: Actor, network_id: str, now: datetime) -> Gantt:
    """Bars of the plan; a plant sees its own machines only, customers nothing."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    units = select(Unit.id).where(Unit.network_id == network_id)
    if actor.role is Role.PLANT:
        units = units.where(Unit.id == actor.unit_id)
    machines = session.scalars(
        select(Machine).where(Machine.unit_id.in_(units)).order_by(Machine.unit_id, Machine.id)
    ).all()
    down = service.down_machines(session=session, network_id=network_id, now=now)
    bars = _bars(session, now)
    rows = []
    for machine in machines:
        if machine.asset_kind != "machine":
            continue
        key = service.machine_key(machine.unit_id, machine.machine)
        rows.append(
            GanttRow(
                unit_id=machine.unit_id,
                machine=machine.machine,
                down=key in down,
                bars=bars.get(key, []),
            )
        )
    ends = [bar.end for row in rows for bar in row.bars] or [now + timedelta(minutes=5)]
    starts = [bar.setup_start or bar.start for row in rows for bar in row.bars] or [now]
    start = max(min(*starts, now), now - MAX_PAST)
    return Gantt(start=start, end=max(*ends, now + timedelta(seconds=1)), now=now, rows=rows)


def _bars(session: Session, now: datetime) -> dict[str, list[GanttBar]]:
    found: dict[str, list[GanttBar]] = defaultdict(list)
    query = (
        select(OrderOperation, Order.id)
        .join(Order)
        .where(OrderOperation.unit_id.is_not(None), OrderOperation.planned_start.is_not(None))
    )
    for op, order_id in session.execute(query):
        if op.planned_start is None or op.unit_id is None or op.machine is None:
            continue
        start = op.started_at or op.planned_start
        end = op.ended_at or max(op.planned_end or start, start)
        setup = op.planned_setup_start if op.started_at is None else None
        if op.status == OperationStatus.RUNNING and end < now:
            end = now
        found[service.machine_key(op.unit_id, op.machine)].append(
            GanttBar(
                order_id=order_id,
                step=op.step,
                name=op.name,
                status=op.status,
                start=start,
                end=end,
                progress=op.progress,
                setup_start=setup if setup is not None and setup < start else None,
                operator=op.planned_operator,
            )
        )
    return found


def render_svg(gantt: Gantt) -> str:
    """An SVG document of ``gantt`` (escaped; safe to inline in a page)."""
    span = max((gantt.end - gantt.start).total_seconds(), 1.0)
    height = HEADER + ROW_HEIGHT * max(len(gantt.rows), 1) + 4
    width = LABEL_WIDTH + CHART_WIDTH + 10

    def x(when: datetime) -> float:
        return LABEL_WIDTH + CHART_WIDTH * (when - gantt.start).total_seconds() / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui" font-size="12">',
        f'<text x="{LABEL_WIDTH}" y="16" fill="#1d2733">{gantt.start:%H:%M:%S}</text>',
        f'<text x="{LABEL_WIDTH + CHART_WIDTH}" y="16" text-anchor="end" fill="#1d2733">'
        f"{gantt.end:%H:%M:%S} UTC</text>",
    ]
    for index, row in enumerate(gantt.rows):
        parts.extend(_row(index, row, x))
    now_x = x(gantt.now)
    parts.append(
        f'<line class="now" x1="{now_x:.1f}" x2="{now_x:.1f}" y1="{HEADER - 6}" y2="{height}" '
        'stroke="#d62828" stroke-width="2"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _row(index: int, row: GanttRow, x: Callable[[datetime], float]) -> list[str]:
    top = HEADER + index * ROW_HEIGHT
    label = escape(f"{row.unit_id} / {row.machine}")
    fill = "#fde2e1" if row.down else ("#ffffff" if index % 2 else "#f4f6f8")
    parts = [
        f'<rect x="0" y="{top}" width="{LABEL_WIDTH + CHART_WIDTH}" height="{ROW_HEIGHT}" '
        f'fill="{fill}"/>',
        f'<text x="6" y="{top + 17}" fill="#1d2733">{label}{" (down)" if row.down else ""}</text>',
    ]
    for bar in row.bars:
        left = max(x(bar.start), LABEL_WIDTH)
        right = max(x(bar.end), left + 2)
        who = f" · {bar.operator}" if bar.operator else ""
        title = escape(f"{bar.order_id} · {bar.name} · {bar.status}{who}")
        if bar.setup_start is not None:
            setup_left = max(x(bar.setup_start), LABEL_WIDTH)
            parts.append(
                f'<g class="setup" data-order="{escape(bar.order_id)}">'
                f"<title>{escape(f'{bar.order_id} · setup before {bar.name}')}</title>"
                f'<rect x="{setup_left:.1f}" y="{top + 7}" width="{max(left - setup_left, 1):.1f}" '
                f'height="{ROW_HEIGHT - 14}" fill="{SETUP_COLOUR}" stroke="#6b7785"/>'
                "</g>"
            )
        parts.append(
            f'<g class="bar {escape(bar.status)}" data-order="{escape(bar.order_id)}">'
            f"<title>{title}</title>"
            f'<rect x="{left:.1f}" y="{top + 4}" width="{right - left:.1f}" '
            f'height="{ROW_HEIGHT - 8}" rx="3" fill="{COLOURS.get(bar.status, "#ccc")}"/>'
            "</g>"
        )
    return parts
