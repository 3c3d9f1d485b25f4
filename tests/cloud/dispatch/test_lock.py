"""Exactly one active scheduler: the PostgreSQL advisory lock, and SQLite's trivial one."""

from __future__ import annotations

from cloud.database import make_engine, migrate
from cloud.dispatch.lock import SchedulerLock, lock_key


def test_only_one_process_holds_the_scheduler_lock(db_url: str) -> None:
    first_engine, second_engine = make_engine(db_url), make_engine(db_url)
    migrate(first_engine)
    first, second = SchedulerLock(first_engine, "net-a"), SchedulerLock(second_engine, "net-a")
    try:
        assert first.acquire() and first.acquire(), "the holder keeps it"
        if first_engine.dialect.name == "postgresql":
            assert not second.acquire(), "a second coordinator process stays passive"
            other = SchedulerLock(second_engine, "net-b")
            assert other.acquire(), "other networks are apart"
            other.release()
            first.release()
            assert second.acquire(), "it takes over once the first lets go"
        else:
            assert second.acquire(), "SQLite: one coordinator process by design"
    finally:
        first.release()
        second.release()
        first_engine.dispose()
        second_engine.dispose()


def test_lock_keys_are_stable_signed_64_bit_and_per_network() -> None:
    assert lock_key("glonet-demo") == lock_key("glonet-demo")
    assert lock_key("glonet-demo") != lock_key("other")
    assert -(2**63) <= lock_key("glonet-demo") < 2**63
