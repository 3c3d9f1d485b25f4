"""A machine's OPC 10031-4 job order receiver: method calls in, standard job lists out.

The methods (Store, StoreAndStart, Start, Cancel, Abort, Clear) take the spec's arguments: an
``ISA95JobOrderDataType`` (or a JobOrderID) and a ``LocalizedText[]`` comment. They answer with
the ReturnStatus bitmask; as OPC 10031-4 B.2 asks, a refusal is an Uncertain call result that
still carries the ReturnStatus, while arguments of the wrong number or type are Bad call results
(``BadTooManyArguments``, ``BadArgumentsMissing``, ``BadInvalidArgument``).

How a job order's fields become the simulator's order (docs/machines.md): JobOrderID; the
operation from Description (or the ``JobName`` parameter); the process from the first
WorkMasterID; the quantity from the ``Produced`` material requirement; the planned duration from
the ``PlannedDuration`` parameter (seconds) or EndTime - StartTime; every other scalar parameter
as is (``load`` sets the machine load).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from asyncua import ua
from pydantic import ValidationError

from firmware_sim.companion import (
    JOB_ORDER_AND_STATE_TYPE,
    JOB_RESPONSE_TYPE,
    MATERIAL_TYPE,
    PARAMETER_TYPE,
    STATE_TYPE,
    Namespaces,
    structure,
)
from firmware_sim.jobs import Job, JobList
from protocols.enums import MATERIAL_PRODUCED, JobOrderParameter, ReturnStatus
from protocols.messages import MAX_JOB_QUANTITY, JobOrder

_LOGGER = logging.getLogger(__name__)

SCALARS = (bool, int, float, str)
Call = Callable[..., Awaitable[ua.CallMethodResult | ua.StatusCode]]


class BadArguments(Exception):
    """The call's arguments do not match the method's signature."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Structures:
    """The generated classes of the ISA-95 structures of one server."""

    order_and_state: type
    response: type
    state: type
    parameter: type
    material: type

    @classmethod
    def of(cls, models: Namespaces) -> Structures:
        def find(identifier: int) -> type:
            return structure(models.job_control_id(identifier))

        return cls(
            order_and_state=find(JOB_ORDER_AND_STATE_TYPE),
            response=find(JOB_RESPONSE_TYPE),
            state=find(STATE_TYPE),
            parameter=find(PARAMETER_TYPE),
            material=find(MATERIAL_TYPE),
        )


class JobReceiver:
    """The job control methods of one machine and the values of its two lists."""

    def __init__(
        self,
        machine_id: str,
        jobs: JobList,
        structures: Structures,
        now: Callable[[], datetime],
        changed: Callable[[], Awaitable[None]],
        stamp: Callable[[datetime], datetime] = lambda plant: plant,
    ) -> None:
        self.machine_id = machine_id
        self.jobs = jobs
        self.structures = structures
        self._now = now
        self._stamp = stamp  # a simulated time's wall-clock time, for StartTime/EndTime
        self._changed = changed

    def methods(self) -> dict[str, Call]:
        return {
            "Store": self._method(lambda args: self._store(args, start=False)),
            "StoreAndStart": self._method(lambda args: self._store(args, start=True)),
            "Start": self._method(lambda args: self.jobs.start(_job_order_id(args))),
            "Cancel": self._method(lambda args: self.jobs.cancel(_job_order_id(args))),
            "Abort": self._method(
                lambda args: self.jobs.abort(_job_order_id(args), now=self._now())
            ),
            "Clear": self._method(lambda args: self.jobs.clear(_job_order_id(args))),
        }

    def _method(self, run: Callable[[Sequence[ua.Variant]], ReturnStatus]) -> Call:
        async def call(parent: ua.NodeId, *args: ua.Variant) -> ua.CallMethodResult | ua.StatusCode:
            try:
                _check_count(args)
                status = run(args)
            except BadArguments as exc:
                _LOGGER.info("%s: job control call refused: %s", self.machine_id, exc)
                return ua.StatusCode(ua.UInt32(exc.code))
            except Exception:  # a bad call must never take the server down
                _LOGGER.exception("%s: job control call failed", self.machine_id)
                status = ReturnStatus.INVALID_REQUEST
            await self._changed()
            return call_result(status)

        return call

    def _store(self, args: Sequence[ua.Variant], *, start: bool) -> ReturnStatus:
        payload = args[0].Value
        if not hasattr(payload, "JobOrderID"):
            raise BadArguments(
                ua.StatusCodes.BadInvalidArgument, "JobOrder is not an ISA95JobOrderDataType"
            )
        order = self._order(payload)
        if order is None:
            return ReturnStatus.INVALID_REQUEST
        return self.jobs.store(order, start=start, now=self._now(), payload=payload)

    def _order(self, payload: Any) -> JobOrder | None:
        try:
            return JobOrder.model_validate(order_fields(payload, self.machine_id))
        except (ValidationError, ValueError) as exc:
            _LOGGER.info("%s: invalid job order: %s", self.machine_id, _summary(exc))
            return None

    # The two lists ----------------------------------------------------------------------------

    def order_list(self) -> list[Any]:
        s = self.structures
        return [s.order_and_state(JobOrder=j.payload, State=[self._state(j)]) for j in self.jobs]

    def response_list(self) -> list[Any]:
        return [self._response(j) for j in self.jobs if j.has_response]

    def _state(self, job: Job) -> Any:
        return self.structures.state(
            BrowsePath=ua.RelativePath(),
            StateText=ua.LocalizedText(job.state.value),
            StateNumber=ua.UInt32(job.state.number),
        )

    def _response(self, job: Job) -> Any:
        s = self.structures
        data = [
            s.parameter(
                ID=JobOrderParameter.PRODUCED_QUANTITY.value,
                Value=ua.Variant(job.produced, ua.VariantType.UInt32),
            ),
            s.parameter(
                ID=JobOrderParameter.PROGRESS.value,
                Value=ua.Variant(round(job.progress, 4), ua.VariantType.Double),
            ),
        ]
        produced = s.material(MaterialUse=MATERIAL_PRODUCED, Quantity=str(job.produced))
        return s.response(
            JobResponseID=f"{job.job_order_id}.response",
            JobOrderID=job.job_order_id,
            StartTime=self._stamp(job.actual_start) if job.actual_start else None,
            EndTime=self._stamp(job.actual_end) if job.actual_end else None,
            JobState=[self._state(job)],
            JobResponseData=data,
            MaterialActuals=[produced],
        )


def call_result(status: ReturnStatus) -> ua.CallMethodResult:
    """Good with ReturnStatus NoError, else Uncertain still carrying the ReturnStatus."""
    code = ua.StatusCodes.Good if status.ok else ua.StatusCodes.Uncertain
    return ua.CallMethodResult(
        StatusCode=ua.StatusCode(ua.UInt32(code)),
        OutputArguments=[ua.Variant(int(status), ua.VariantType.UInt64)],
    )


def _check_count(args: Sequence[ua.Variant]) -> None:
    if len(args) > 2:
        raise BadArguments(ua.StatusCodes.BadTooManyArguments, f"{len(args)} arguments, 2 expected")
    if not args:
        raise BadArguments(ua.StatusCodes.BadArgumentsMissing, "no arguments, 2 expected")
    if len(args) == 2:
        comment = args[1]
        if comment.VariantType not in (ua.VariantType.LocalizedText, ua.VariantType.Null):
            raise BadArguments(
                ua.StatusCodes.BadInvalidArgument,
                f"Comment is {comment.VariantType.name}, LocalizedText[] expected",
            )


def _job_order_id(args: Sequence[ua.Variant]) -> str:
    if args[0].VariantType is not ua.VariantType.String:
        raise BadArguments(
            ua.StatusCodes.BadInvalidArgument,
            f"JobOrderID is {args[0].VariantType.name}, String expected",
        )
    return str(args[0].Value)


def order_fields(payload: Any, machine_id: str) -> dict[str, Any]:
    """The simulator's order fields read from an ``ISA95JobOrderDataType``."""
    parameters = {
        p.ID: getattr(p.Value, "Value", p.Value) for p in payload.JobOrderParameters or []
    }
    operation = _texts(payload.Description) or _texts(
        parameters.pop(JobOrderParameter.JOB_NAME, [])
    )
    work_masters = payload.WorkMasterID or []
    duration = parameters.pop(JobOrderParameter.PLANNED_DURATION, None)
    if duration is None and payload.StartTime and payload.EndTime:
        duration = (payload.EndTime - payload.StartTime).total_seconds()
    orders = parameters.pop(JobOrderParameter.ORDER_NUMBERS, None) or [None]
    return {
        "job_order_id": payload.JobOrderID,
        "machine": machine_id,
        "operation": operation or payload.JobOrderID,
        "process": work_masters[0].ID if work_masters else None,
        "quantity": _produced_quantity(payload.MaterialRequirements or []),
        "planned_duration_s": duration,
        "parameters": {k: v for k, v in parameters.items() if isinstance(v, SCALARS)},
        "planned_start": payload.StartTime,
        "order_id": orders[0] if isinstance(orders, list) else orders,
    }


def _texts(value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    return next((str(t.Text) for t in items if getattr(t, "Text", None)), "")


def _produced_quantity(materials: list[Any]) -> int:
    """The ``Produced`` material's quantity (a DecimalString): a whole number of parts within
    what a job order may ask (``1.5``, ``NaN``, ``1e999999`` are refused, not truncated, and
    never turned into a huge integer); 1 when no material says."""
    for material in materials:
        if material.MaterialUse in (MATERIAL_PRODUCED, None) and material.Quantity:
            try:
                quantity = Decimal(str(material.Quantity))
            except (InvalidOperation, ValueError) as exc:
                raise ValueError(f"material quantity {material.Quantity!r}") from exc
            if not quantity.is_finite() or quantity != quantity.to_integral_value():
                raise ValueError(f"material quantity {material.Quantity!r}: not a whole number")
            if not 1 <= quantity <= MAX_JOB_QUANTITY:
                raise ValueError(
                    f"material quantity {material.Quantity!r}: not within 1..{MAX_JOB_QUANTITY}"
                )
            return int(quantity)
    return 1


def _summary(exc: Exception) -> str:
    return "; ".join(str(exc).splitlines()[:2])
