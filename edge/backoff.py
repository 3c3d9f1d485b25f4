"""Reconnection backoff with jitter, shared by the OPC UA and MQTT links."""

from __future__ import annotations

import random
from collections.abc import Callable

from edge.config import BackoffConfig


class Backoff:
    """Delays that double from ``reconnect_min_s`` to ``reconnect_max_s``; each one is shortened
    by up to ``reconnect_jitter`` of itself at random, so that the gateways of a network that
    lost the same server or broker do not all come back at the same instant."""

    def __init__(self, config: BackoffConfig, random_fraction: Callable[[], float] = random.random):
        self._config = config
        self._random = random_fraction
        self._next = config.reconnect_min_s

    def reset(self) -> None:
        """A connection succeeded: the next loss starts again from the minimum."""
        self._next = self._config.reconnect_min_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self._config.reconnect_max_s)
        return delay * (1.0 - self._config.reconnect_jitter * self._random())
