"""Where an ingest batch is decoded and applied: in threads of the calling process, or in a
child process of its own.

Decoding and applying telemetry is CPU-bound Python. In the process that also serves the API it
competes with every request for the GIL, and requests wait behind it (API p99 of hundreds of
milliseconds under a telemetry flood). :class:`ProcessApplier` moves that work to a child
process, i.e. to another core: the parent keeps the MQTT connection, acknowledges each batch
after the child committed it, merges the child's metrics and broadcasts the live events it
returns. :class:`ThreadApplier` does the same work in threads of the calling process.

A process applier has one or more *lanes*, each a child process: the worker splits a batch by
unit and hands each lane its share (a unit always goes to the same lane), so the children apply
at once on several cores while each unit's messages are still applied one after the other, in
the order they arrived. Lanes never write the same live-state, rollup or latest-value rows (those
are keyed by unit); they meet in the de-duplication table, in network-wide rows such as the
dispatcher's replan request, and, on SQLite, at the single write lock.

Both raise :class:`~cloud.exceptions.DatabaseError` when a lane's share could not be committed;
the worker then retries that share (its messages are still unacknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol

from sqlalchemy.orm import Session, sessionmaker

from cloud.config import Settings
from cloud.database import make_engine, make_session_factory, transaction, utcnow
from cloud.exceptions import CloudError, Conflict, DatabaseError
from cloud.ingest import quarantine, service
from cloud.messaging.hooks import BatchHook, IngestHooks
from cloud.messaging.mqtt import InboundMessage
from cloud.operations.memory import settle_after_startup
from cloud.operations.metrics import Metrics, MetricsDelta
from cloud.telemetry.sink import TelemetrySink, make_sink
from protocols import topics

_LOGGER = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0
"""How long a child process may take to finish its share and stop before it is killed."""


class ApplierCrashed(CloudError):
    """The applier itself failed on a share (its child process died): nothing of the share
    was acknowledged, and the worker decides whether to retry it or split it."""


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    events: list[dict[str, Any]]


class BatchApplier(Protocol):
    in_flight: int
    """How many batches the worker may hand over before the first is done; a lane applies
    its shares in the order handed over."""
    lanes: int
    """How many shares of a batch are applied at once, each by its own lane."""

    async def start(self) -> None: ...

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch: ...

    async def stop(self) -> None: ...


@dataclass
class Pipeline:
    """Decode, then apply in one transaction: the work itself, wherever it runs."""

    network: str
    max_payload: int
    session_factory: sessionmaker[Session]
    sink: TelemetrySink
    metrics: Metrics
    hooks: Sequence[BatchHook] = ()
    max_future_skew: timedelta | None = service.DEFAULT_MAX_FUTURE_SKEW
    max_forecast: timedelta | None = service.DEFAULT_MAX_FORECAST
    # What a batch counts, handed to ``metrics`` once it committed; one for the pipeline's life,
    # drained per batch (building a registry per batch cost more than applying a small batch).
    _tally: Metrics = field(
        default_factory=lambda: Metrics(forwarded=True), init=False, repr=False, compare=False
    )

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        session_factory: sessionmaker[Session],
        sink: TelemetrySink,
        metrics: Metrics,
        hooks: Sequence[BatchHook],
    ) -> Pipeline:
        skew = settings.ingest.max_future_skew_s
        forecast = settings.ingest.max_forecast_s
        return cls(
            network=settings.network,
            max_payload=settings.ingest.max_payload_bytes,
            session_factory=session_factory,
            sink=sink,
            metrics=metrics,
            hooks=hooks,
            max_future_skew=timedelta(seconds=skew) if skew else None,
            max_forecast=timedelta(seconds=forecast) if forecast else None,
        )

    def run(self, batch: Sequence[InboundMessage]) -> list[dict[str, Any]]:
        """Live events. Every message ends applied, duplicate, rejected (counted by reason) or
        set aside as a dead letter; only a :class:`DatabaseError` saying the database is away
        escapes, and the caller retries the whole batch. Rejects are counted, and messages the
        decoder fails on are set aside, once the batch is committed: a batch retried after the
        database was away neither counts them twice nor keeps them twice."""
        decoded: list[tuple[int, service.Decoded]] = []
        rejected, broken = [], []
        not_consumed = 0
        now = utcnow()
        for index, inbound in enumerate(batch):
            try:
                item = self._decode(inbound, now)
            except service.Rejected as exc:
                rejected.append(exc.reason)
                _LOGGER.debug("rejected a message on %s: %s", inbound.topic, exc)
                continue
            except Exception as exc:  # a decoder bug: the message may well be valid
                broken.append((inbound, None, exc))
                continue
            if item is not None:
                decoded.append((index, item))
            else:
                not_consumed += 1
        events = self._apply_all(batch, decoded) if decoded else []
        if broken:
            self.set_aside(broken)
        for reason in rejected:
            self.metrics.rejects.inc(1, reason=reason)
        if not_consumed:
            self.metrics.ignored.inc(not_consumed, reason=NOT_CONSUMED)
        return events

    def _decode(self, inbound: InboundMessage, now: datetime) -> service.Decoded | None:
        return service.decode(
            inbound,
            network=self.network,
            max_payload=self.max_payload,
            max_future_skew=self.max_future_skew,
            max_forecast=self.max_forecast,
            now=now,
        )

    def apply(self, decoded: Sequence[service.Decoded]) -> list[dict[str, Any]]:
        """Apply decoded messages in one transaction; their live events. What they count
        (messages, samples, duplicates, stale, unknown units) reaches :attr:`metrics` only when
        the transaction committed, so a batch applied again counts once."""
        tally = self._tally
        try:
            events = service.apply_batch(
                session_factory=self.session_factory,
                network=self.network,
                batch=decoded,
                sink=self.sink,
                metrics=tally,
                hooks=self.hooks,
            ).events
        except BaseException:
            tally.drain()  # a batch that did not commit counts nothing
            raise
        self.metrics.merge(tally.drain())
        return events

    def _apply_all(
        self, batch: Sequence[InboundMessage], decoded: Sequence[tuple[int, service.Decoded]]
    ) -> list[dict[str, Any]]:
        """The messages in one transaction; if that fails for a reason a retry would not mend,
        one by one, setting aside each message that fails on its own (see
        :mod:`cloud.ingest.quarantine`). A transient DatabaseError goes to the caller, which
        retries the whole share."""
        try:
            return self.apply([item for _, item in decoded])
        except Exception as exc:  # any failure but the database being away
            if _transient(exc):
                raise
            _LOGGER.error(
                "an ingest batch of %d messages failed (%s); applying them one by one",
                len(decoded),
                quarantine.describe(exc),
            )
        events: list[dict[str, Any]] = []
        failed = []
        for index, item in decoded:
            try:
                events.extend(self.apply([item]))
            except Exception as exc:
                if _transient(exc):
                    raise
                failed.append((batch[index], item, exc))
        self.set_aside(failed)
        return events

    def retry(self, letter_id: int) -> list[dict[str, Any]]:
        """Apply a dead letter as if it had just arrived and delete it; its live events. When it
        fails again it stays, one attempt more, and Conflict says why."""
        with transaction(self.session_factory) as session:
            topic, payload = quarantine.load(session=session, letter_id=letter_id)
        try:
            item = self._decode(InboundMessage(topic, payload, 0, 0, False), utcnow())
        except service.Rejected as exc:
            raise Conflict(
                f"the message is refused now ({exc.reason}: {exc}); discard the letter"
            ) from exc
        except Exception as exc:
            self._failed_again(letter_id, exc)
        if item is None:
            raise Conflict(f"the ingest no longer consumes {topic!r}; discard the letter")
        try:
            events = self.apply([item])
        except Exception as exc:
            if _transient(exc):
                raise
            self._failed_again(letter_id, exc)
        with transaction(self.session_factory) as session:
            quarantine.remove(session=session, letter_id=letter_id)
        return events

    def _failed_again(self, letter_id: int, exc: Exception) -> NoReturn:
        with transaction(self.session_factory) as session:
            quarantine.failed_again(session=session, letter_id=letter_id, exc=exc, now=utcnow())
        raise Conflict(f"applying it failed again: {quarantine.describe(exc)}") from exc

    def set_aside(
        self, failed: Sequence[tuple[InboundMessage, service.Decoded | None, Exception]]
    ) -> None:
        """Keep each message with the error it failed on, all in one transaction; ``None`` for a
        message that failed in the decoder, whose id is not known."""
        if not failed:
            return
        try:
            new = self._record_letters(failed)
        except DatabaseError as refused:
            if refused.transient:
                raise
            # Something in them the database refuses even as a letter: keep each one that can
            # be kept, count the others as rejected, so that none of them stops the ingest.
            new = 0
            for one in failed:
                try:
                    new += self._record_letters([one])
                except DatabaseError as again:
                    if again.transient:
                        raise
                    _LOGGER.error(
                        "could not keep a message on %r as a dead letter (%s): %r",
                        one[0].topic,
                        again.message,
                        one[0].payload[:1000],
                    )
                    self.metrics.rejects.inc(1, reason=UNRECORDABLE)
        for inbound, _, error in failed:
            _LOGGER.error(
                "set aside a message on %s as a dead letter: %s",
                inbound.topic,
                quarantine.describe(error),
                exc_info=error,
            )
        if new:
            self.metrics.rejects.inc(new, reason=UNPROCESSABLE)

    def _record_letters(
        self, failed: Sequence[tuple[InboundMessage, service.Decoded | None, Exception]]
    ) -> int:
        """Keep the messages as dead letters in one transaction; how many are new letters."""
        now = utcnow()
        with transaction(self.session_factory) as session:
            return sum(
                quarantine.set_aside(
                    session=session,
                    topic=inbound.topic,
                    payload=inbound.payload,
                    message_id=None if item is None else item.message.id,
                    unit_id=_unit_of(inbound) if item is None else item.message.unit,
                    exc=exc,
                    now=now,
                )
                for inbound, item, exc in failed
            )


def _unit_of(inbound: InboundMessage) -> str | None:
    """The unit a message's topic names, if it names one."""
    try:
        return topics.parse(inbound.topic).unit
    except Exception:  # the topic parser may be what failed
        return None


UNPROCESSABLE = "unprocessable"
"""The reject reason of a valid message set aside as a dead letter."""
UNRECORDABLE = "unrecordable"
"""The reject reason of a message that failed and could not even be kept as a dead letter."""
NOT_CONSUMED = "not_consumed"
"""Why a message on a topic of the network was ignored: the ingest does not consume that kind
(the coordinator's own commands, alerts and state, which its subscription also receives)."""


def _transient(exc: Exception) -> bool:
    return isinstance(exc, DatabaseError) and exc.transient


class ThreadApplier:
    """Decode and apply in worker threads of this process (tests, small networks)."""

    in_flight = 1
    """One at a time: two threads would apply two batches concurrently, out of order."""
    lanes = 1

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def start(self) -> None:
        return None

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch:
        return AppliedBatch(await asyncio.to_thread(self._pipeline.run, batch))

    async def stop(self) -> None:
        return None


@dataclass
class _ChildResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    metrics: MetricsDelta = field(default_factory=dict)
    error: str | None = None
    contended: bool = False


class ProcessApplier:
    """Decode and apply in child processes, one per lane (``spawn``: no threads are forked)."""

    in_flight = 2
    """A child applies its calls one after the other, in order: with the next share already
    queued it does not wait for the parent to acknowledge the last one and send another."""

    def __init__(
        self,
        *,
        settings: Settings,
        metrics: Metrics,
        hooks: IngestHooks | None,
    ) -> None:
        """``hooks``: the registry each child builds its batch hooks from."""
        self._settings = settings
        self._metrics = metrics
        self._hooks = hooks or IngestHooks()
        self.lanes = settings.ingest.processes
        self._executors: list[ProcessPoolExecutor | None] = [None] * self.lanes
        self.child_pids: list[int | None] = [None] * self.lanes

    async def start(self) -> None:
        # Start the children now, so that the first batch does not wait for their imports.
        await asyncio.gather(*(self._start(lane) for lane in range(self.lanes)))
        _LOGGER.info("ingest batches are applied in %d child process(es)", self.lanes)

    async def _start(self, lane: int) -> None:
        self._executors[lane] = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_start,
            initargs=(self._settings, self._hooks),
        )
        self.child_pids[lane] = await self._run(lane, _child_pid)

    async def apply(self, batch: Sequence[InboundMessage], lane: int = 0) -> AppliedBatch:
        raw = [(inbound.topic, inbound.payload) for inbound in batch]
        try:
            if self._executors[lane] is None:
                await self._start(lane)
            result: _ChildResult = await self._run(lane, _child_apply, raw)
        except BrokenProcessPool as exc:
            # The child died (killed, out of memory) or could not start: nothing of this share
            # was acknowledged, so the retry applies it in a fresh child, with the
            # de-duplication guarding what the dead one had committed.
            _LOGGER.error("the ingest child process died; its share goes to a new one")
            await self._stop(lane)
            raise ApplierCrashed("the ingest child process died") from exc
        self._metrics.merge(result.metrics)
        if result.error is not None:
            raise DatabaseError(result.error, contended=result.contended)
        return AppliedBatch(result.events)

    async def stop(self) -> None:
        await asyncio.gather(*(self._stop(lane) for lane in range(self.lanes)))

    async def _stop(self, lane: int) -> None:
        """Stop the lane's child in order; one that does not finish its work within
        :data:`STOP_TIMEOUT` is killed: a child is never left behind."""
        executor, self._executors[lane] = self._executors[lane], None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                with contextlib.suppress(BrokenProcessPool, RuntimeError):  # a dead child
                    await asyncio.get_running_loop().run_in_executor(executor, _child_stop)
                await asyncio.to_thread(executor.shutdown, True)
        except TimeoutError:
            _LOGGER.error("the ingest child process did not stop in time; killing it")
            for process in processes:
                process.kill()
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)

    async def _run(self, lane: int, function: Callable[..., Any], *args: Any) -> Any:
        executor = self._executors[lane]
        assert executor is not None, "start() the applier first"
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)


# The child process ---------------------------------------------------------------------------

_CHILD: Pipeline | None = None


def _child_start(settings: Settings, hooks: IngestHooks) -> None:
    global _CHILD
    # Ctrl-C reaches the whole process group: the parent stops this child in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(settings.resolved_database_url)
    metrics = Metrics(forwarded=True)
    _CHILD = Pipeline.for_settings(
        settings,
        session_factory=make_session_factory(engine),
        sink=make_sink(settings.telemetry, metrics, network=settings.network),
        metrics=metrics,
        hooks=hooks.build(),
    )
    settle_after_startup()


def _exit_with_parent(parent: int) -> None:
    """End this child once its parent is gone (killed: it could not stop the child), rather
    than live on as an orphan holding database connections."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_INTERVAL)
    os._exit(1)


PARENT_WATCH_INTERVAL = 0.5


def _child_pid() -> int:
    return os.getpid()


def _child_apply(raw: list[tuple[str, bytes]]) -> _ChildResult:
    assert _CHILD is not None
    batch = [InboundMessage(topic, payload, 0, 0, False) for topic, payload in raw]
    result = _ChildResult()
    try:
        result.events = _CHILD.run(batch)
    except DatabaseError as exc:
        result.error, result.contended = exc.message, exc.contended
    result.metrics = _CHILD.metrics.drain()
    return result


def _child_stop() -> None:
    if _CHILD is not None:
        _CHILD.sink.close()
