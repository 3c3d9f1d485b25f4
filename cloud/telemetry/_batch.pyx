# cython: language_level=3, boundscheck=False, wraparound=False
"""A batch's accepted telemetry samples, folded in one pass as they are added.

Every sample the coordinator accepts goes through here, so this is compiled: a sample's time is
turned into integer microseconds once, and the chunks' bounds and offsets, the minute buckets
(count, total, min, max, last) and the newest value of every metric are kept in C integers and
doubles, per machine, instead of datetimes compared and subtracted in Python and a tuple key
built per sample. What the batch gives back — chunk rows, rollup rows, latest-value rows, live
events, records for a sink — is built once per machine or metric, not per sample.
"""

from cpython.datetime cimport (
    datetime,
    import_datetime,
    timedelta,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)

import_datetime()

from datetime import UTC
from datetime import datetime as _datetime
from datetime import timedelta as _timedelta
from datetime import timezone as _timezone

from orjson import dumps as _dumps
from pydantic_core import TzInfo as _TzInfo

from cloud.telemetry.models import SampleRecord

cdef long long _MINUTE = 60_000_000
cdef object _EPOCH = _datetime(1970, 1, 1, tzinfo=UTC)


cdef long long _days_from_civil(long long y, long long m, long long d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    cdef long long era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef class _Clock:
    """Turns aware datetimes into microseconds since the epoch (UTC).

    A message's times share one tzinfo object (pydantic parses every ``Z`` to the same one), and
    a fixed-offset zone's offset does not depend on the date: it is asked once and reused while
    the zone stays the same object. Any other zone (one with daylight saving time) is asked
    every time.
    """

    cdef object zone
    cdef long long offset

    cdef long long microseconds(self, object value) except? -1:
        if not isinstance(value, _datetime):
            raise TypeError(f"a sample's time must be a datetime, not {type(value).__name__}")
        cdef datetime time = <datetime>value
        cdef object zone = time.tzinfo
        if zone is None or zone is not self.zone:
            offset = time.utcoffset()
            if offset is None:
                raise ValueError("a sample's time must carry a time zone")
            self.offset = _offset_microseconds(<timedelta>offset)
            fixed = type(zone) is _TzInfo or type(zone) is _timezone
            self.zone = zone if fixed else None
        return (
            (
                (_days_from_civil(time.year, time.month, time.day) * 24 + time.hour) * 60
                + time.minute
            ) * 60 + time.second
        ) * 1_000_000 + time.microsecond - self.offset


cdef inline long long _offset_microseconds(timedelta delta):
    return (
        (<long long>timedelta_days(delta) * 86_400 + timedelta_seconds(delta)) * 1_000_000
        + timedelta_microseconds(delta)
    )


cdef class _Bucket:
    """One metric's samples within one minute; ``older`` holds the same metric's other minutes."""

    cdef long long minute
    cdef long count
    cdef double total, minimum, maximum, last
    cdef long long last_us
    cdef object last_time
    cdef _Bucket older


cdef class _Newest:
    """A metric's newest sample (by time; the later one on a tie)."""

    cdef long long us
    cdef object time, value, quality


cdef class _Machine:
    """One unit and machine's samples of the batch: a chunk row, its buckets, its newest values."""

    cdef str unit_id, machine
    cdef list samples  # [metric, time, microseconds, value, quality], in arrival order
    cdef long long first_us, last_us
    cdef object first_time, last_time
    cdef dict buckets  # metric -> _Bucket
    cdef dict newest  # metric -> _Newest
    cdef dict arrived  # metric -> the value that arrived last (the live event's)

    def __cinit__(self, str unit_id, str machine):
        self.unit_id = unit_id
        self.machine = machine
        self.samples = []
        self.buckets = {}
        self.newest = {}
        self.arrived = {}


cdef class SampleBatch:
    """The accepted samples of one ingest batch, ready for the sink, rollups and latest values."""

    cdef dict _machines  # (unit_id, machine) -> _Machine, in order of first arrival
    cdef _Machine _current
    cdef _Clock _clock
    cdef Py_ssize_t _count

    def __cinit__(self):
        self._machines = {}
        self._current = None
        self._clock = _Clock()
        self._count = 0

    @classmethod
    def of(cls, records):
        """A batch of :class:`~cloud.telemetry.models.SampleRecord` (or equal tuples)."""
        cdef SampleBatch batch = cls()
        for unit_id, machine, metric, time, value, quality in records:
            batch._add(unit_id, machine, metric, time, value, quality)
        return batch

    def add(self, str unit_id, samples):
        """Add one message's samples (``protocols`` samples: machine, metric, value,
        source_time, quality)."""
        for sample in samples:
            # str() of a StrEnum is its value, without the enum's Python-level ``.value``.
            self._add(
                unit_id,
                sample.machine,
                sample.metric,
                sample.source_time,
                sample.value,
                str(sample.quality),
            )

    cdef int _add(
        self, str unit_id, str machine, str metric, object time, object value, str quality
    ) except -1:
        cdef long long us = self._clock.microseconds(time)
        # A Bad sample may carry no value (protocol 1.2): it is stored and becomes the latest
        # sample, but there is nothing to roll up.
        cdef bint text = value is None or isinstance(value, str)
        cdef double number = 0.0
        if not text:
            number = value  # booleans count as 0 and 1
            if number != number or number - number != 0:
                raise ValueError(f"a sample's value must be finite, not {value!r}")

        cdef _Machine target = self._current
        if target is None or target.machine != machine or target.unit_id != unit_id:
            key = (unit_id, machine)
            target = self._machines.get(key)
            if target is None:
                target = self._machines[key] = _Machine(unit_id, machine)
            self._current = target
        if not target.samples or us < target.first_us:
            target.first_us, target.first_time = us, time
        if not target.samples or us > target.last_us:
            target.last_us, target.last_time = us, time
        target.samples.append([metric, time, us, value, quality])
        target.arrived[metric] = value
        self._count += 1

        cdef _Newest newest = target.newest.get(metric)
        if newest is None:
            newest = target.newest[metric] = _Newest()
        elif us < newest.us:
            newest = None
        if newest is not None:
            newest.us, newest.time, newest.value, newest.quality = us, time, value, quality

        if text:
            return 0  # a latest value, but nothing to roll up (text, or no value)
        cdef long long minute = us - us % _MINUTE
        cdef _Bucket first = target.buckets.get(metric)
        cdef _Bucket bucket = first
        while bucket is not None and bucket.minute != minute:
            bucket = bucket.older
        if bucket is None:
            bucket = _Bucket()
            bucket.minute = minute
            bucket.count = 1
            bucket.total = bucket.minimum = bucket.maximum = bucket.last = number
            bucket.last_us, bucket.last_time = us, time
            bucket.older = first
            target.buckets[metric] = bucket
            return 0
        bucket.count += 1
        bucket.total += number
        if number < bucket.minimum:
            bucket.minimum = number
        if number > bucket.maximum:
            bucket.maximum = number
        if us >= bucket.last_us:
            bucket.last, bucket.last_us, bucket.last_time = number, us, time
        return 0

    def __len__(self):
        return self._count

    def records(self):
        """Every sample as a :class:`~cloud.telemetry.models.SampleRecord`, machine by machine,
        in arrival order within a machine."""
        cdef _Machine target
        out = []
        for target in self._machines.values():
            for metric, time, _us, value, quality in target.samples:
                out.append(
                    SampleRecord(target.unit_id, target.machine, metric, time, value, quality)
                )
        return out

    def chunk_rows(self):
        """One ``telemetry_chunks`` row per unit and machine: its samples in arrival order as
        ``[metric, microseconds after first_time, value, quality]`` JSON."""
        cdef _Machine target
        cdef long long first
        rows = []
        for target in self._machines.values():
            first = target.first_us
            encoded = _dumps(
                [
                    [metric, us - first, value, quality]
                    for metric, _time, us, value, quality in target.samples
                ]
            ).decode()
            rows.append(
                {
                    "unit_id": target.unit_id,
                    "machine": target.machine,
                    "first_time": target.first_time,
                    "last_time": target.last_time,
                    "count": len(target.samples),
                    "samples": encoded,
                }
            )
        return rows

    def rollup_rows(self):
        """One ``metric_rollups`` row per numeric metric and minute, in key order (so that two
        workers upserting the same buckets take their row locks in the same order)."""
        cdef _Machine target
        cdef _Bucket bucket
        minutes = {}
        rows = []
        for target in self._machines.values():
            for metric, first in target.buckets.items():
                bucket = first
                while bucket is not None:
                    minute = minutes.get(bucket.minute)
                    if minute is None:
                        minute = minutes[bucket.minute] = _EPOCH + _timedelta(
                            microseconds=bucket.minute
                        )
                    rows.append(
                        {
                            "unit_id": target.unit_id,
                            "machine": target.machine,
                            "metric": metric,
                            "minute": minute,
                            "count": bucket.count,
                            "total": bucket.total,
                            "minimum": bucket.minimum,
                            "maximum": bucket.maximum,
                            "last": bucket.last,
                            "last_time": bucket.last_time,
                        }
                    )
                    bucket = bucket.older
        rows.sort(key=_rollup_key)
        return rows

    def latest_rows(self):
        """One ``latest_metrics`` row per metric, its newest sample, in key order."""
        cdef _Machine target
        cdef _Newest newest
        rows = []
        for target in self._machines.values():
            for metric, newest in target.newest.items():
                text = newest.value is None or isinstance(newest.value, str)
                rows.append(
                    {
                        "unit_id": target.unit_id,
                        "machine": target.machine,
                        "metric": metric,
                        "time": newest.time,
                        "value_number": None if text else float(newest.value),
                        "value_text": newest.value if text else None,
                        "quality": newest.quality,
                    }
                )
        rows.sort(key=_latest_key)
        return rows

    def events(self, str kind):
        """One live event per unit and machine with each metric's last-arrived value."""
        cdef _Machine target
        return [
            {
                "type": kind,
                "unit_id": target.unit_id,
                "machine": target.machine,
                "metrics": dict(target.arrived),
            }
            for target in self._machines.values()
        ]


def _rollup_key(row):
    return (row["unit_id"], row["machine"], row["metric"], row["minute"])


def _latest_key(row):
    return (row["unit_id"], row["machine"], row["metric"])
