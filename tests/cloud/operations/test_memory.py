"""The coordinator's processes freeze their start-up objects and collect young ones less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cloud.operations.memory import YOUNG_THRESHOLD, settle_after_startup


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_spaced() -> None:
    start_up = [object() for _ in range(10)]  # a container the collector tracks
    middle, old = gc.get_threshold()[1:]
    assert any(tracked is start_up for tracked in gc.get_objects())

    settle_after_startup()

    # Frozen: in no generation the collector walks any more.
    assert not any(tracked is start_up for tracked in gc.get_objects())
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
