"""Garbage-collector settings for the coordinator's long-running processes."""

from __future__ import annotations

import gc
import logging

_LOGGER = logging.getLogger(__name__)
YOUNG_THRESHOLD = 10_000
"""Allocations between two young-generation collections (CPython's default: 700)."""


def settle_after_startup() -> None:
    """Freeze what start-up allocated, and collect young objects less often.

    A coordinator process holds some 170,000 objects from its imports and set-up (SQLAlchemy,
    pydantic and FastAPI structures) that live as long as the process. CPython's cyclic
    collector walks all of them in every full collection, and an ingest batch (about 6,000 new
    container objects: models, tuples, rows) sets one off every few batches: decoding a batch
    of gateway-sized messages cost 126 µs per message with the defaults, 45 µs with these
    settings, and the whole coordinator's CPU per message fell by a sixth in
    ``bench/ingest.py`` (docs/coordinator.md). Frozen objects are still freed by
    reference counting; only reference cycles among them are never collected, and start-up
    objects are not garbage anyway.
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
    _LOGGER.debug("froze %d start-up objects", gc.get_freeze_count())
