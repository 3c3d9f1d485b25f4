"""Reconnection backoff: doubling from the minimum to the maximum, shortened by the jitter."""

from edge.backoff import Backoff
from edge.config import BackoffConfig


def test_delays_double_up_to_the_maximum_and_restart_after_a_connection():
    backoff = Backoff(
        BackoffConfig(reconnect_min_s=0.5, reconnect_max_s=3, reconnect_jitter=0),
        random_fraction=lambda: 0.9,
    )
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_shortens_each_delay_by_up_to_its_fraction():
    config = BackoffConfig(reconnect_min_s=2, reconnect_max_s=2, reconnect_jitter=0.5)
    fractions = iter([0.0, 1.0, 0.5])
    backoff = Backoff(config, random_fraction=lambda: next(fractions))
    assert [backoff.next_delay() for _ in range(3)] == [2.0, 1.0, 1.5]


def test_the_real_random_stays_within_the_bounds():
    config = BackoffConfig(reconnect_min_s=1, reconnect_max_s=1, reconnect_jitter=0.3)
    backoff = Backoff(config)
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(0.7 <= d <= 1.0 for d in delays) and len(set(delays)) > 100
