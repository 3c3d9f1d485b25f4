"""The SQLite outbox: order, acknowledgement, sequence numbers, quota and crash safety."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading

from edge.outbox import Outbox, PendingMessage, Priority
from tests.waiting import eventually


def _message(lane: str, priority: Priority, size: int = 100, tag: str = "") -> PendingMessage:
    return PendingMessage(f"t/{lane}/{tag}", b"x" * size, priority, lane)


def test_messages_come_back_in_order_and_go_on_delete(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10_000)
    outbox.put([_message("a", Priority.EVENT, tag=str(i)) for i in range(5)])
    rows = outbox.fetch(0, 10)
    assert [r.topic for r in rows] == [f"t/a/{i}" for i in range(5)]
    assert [r.topic for r in outbox.fetch(rows[1].row_id, 2)] == ["t/a/2", "t/a/3"]
    outbox.delete([rows[0].row_id, rows[2].row_id, 999])
    assert [r.topic for r in outbox.fetch(0, 10)] == ["t/a/1", "t/a/3", "t/a/4"]
    assert outbox.depth == 3 and outbox.size_bytes == 300
    assert outbox.oldest_age() >= 0


def test_sequence_and_state_survive_reopening(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=10_000)
    assert [outbox.next_seq() for _ in range(3)] == [1, 2, 3]
    outbox.put([_message("a", Priority.EVENT)], {"jobs/a": '{"j": 1}'})
    outbox.next_seq()
    outbox.commit_seq()
    outbox.close()
    again = Outbox(tmp_path / "o.sqlite", quota_bytes=10_000)
    assert again.next_seq() == 5
    assert again.get_state("jobs/a") == '{"j": 1}'
    assert again.depth == 1
    again.put([], {"jobs/a": None})
    assert again.get_state("jobs/a") is None


def test_quota_evicts_telemetry_first_then_superseded_capacity(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=1000)
    outbox.put([_message("m", Priority.TELEMETRY, tag="tel") for _ in range(4)])
    outbox.put([_message("m", Priority.CAPACITY, tag="cap-old")])
    outbox.put([_message("m", Priority.CAPACITY, tag="cap-new")])
    outbox.put([_message("m", Priority.EVENT, tag="job") for _ in range(3)])
    assert outbox.size_bytes == 900
    result = outbox.put([_message("m", Priority.EVENT, 300, tag="alarm")])
    assert result.evicted == 2
    topics = [r.topic for r in outbox.fetch(0, 100)]
    assert topics.count("t/m/tel") == 2 and "t/m/cap-old" in topics
    result = outbox.put([_message("m", Priority.EVENT, 400, tag="alarm")])
    assert result.evicted == 3
    topics = [r.topic for r in outbox.fetch(0, 100)]
    assert "t/m/tel" not in topics and "t/m/cap-old" not in topics
    assert "t/m/cap-new" in topics and topics.count("t/m/alarm") == 2
    assert outbox.quota_exceeded


def test_events_are_kept_over_quota_and_new_telemetry_is_refused(tmp_path, caplog):
    outbox = Outbox(tmp_path / "o.sqlite", quota_bytes=500)
    outbox.put([_message("m", Priority.EVENT, tag="job") for _ in range(5)])
    result = outbox.put([_message("m", Priority.EVENT, tag="alarm")])
    assert result.dropped == 0 and outbox.depth == 6
    assert outbox.quota_exceeded
    assert "quota" in caplog.text and caplog.records[-1].levelname == "ERROR"
    result = outbox.put([_message("m", Priority.TELEMETRY), _message("m", Priority.EVENT)])
    assert result.dropped == 1 and outbox.depth == 7
    outbox.delete(r.row_id for r in outbox.fetch(0, 5))
    assert not outbox.quota_exceeded


def test_committed_messages_survive_kill_9(tmp_path):
    path = tmp_path / "o.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from edge.outbox import Outbox, PendingMessage, Priority
        outbox = Outbox(Path({str(path)!r}), quota_bytes=10**9)
        for i in range(200):
            outbox.next_seq()
            outbox.put([PendingMessage(f"t/{{i}}", b"p", Priority.EVENT, "m")])
        sys.stdout.write("written\\n"); sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL and "written" in result.stdout
    outbox = Outbox(path, quota_bytes=10**9)
    assert [r.topic for r in outbox.fetch(0, 1000)] == [f"t/{i}" for i in range(200)]
    assert outbox.next_seq() == 201
    assert os.path.exists(f"{path}-wal")


async def test_wal_checkpoints_run_in_a_worker_thread_not_in_the_commits(tmp_path):
    path = tmp_path / "o.sqlite"
    outbox = Outbox(path, quota_bytes=10**9)
    for _ in range(100):  # 100 commits of ~100 KB: twice SQLite's automatic threshold (4 MB)
        outbox.put([_message("a", Priority.TELEMETRY, size=1000) for _ in range(100)])
    wal = path.with_name(path.name + "-wal")
    frames_before = wal.stat().st_size
    assert frames_before > 8_000_000, "no commit checkpointed the WAL on the event loop"
    threads: list[int] = []
    real = outbox.checkpoint

    def checkpoint():
        threads.append(threading.get_ident())
        return real()

    outbox.checkpoint = checkpoint  # type: ignore[method-assign]
    task = asyncio.create_task(outbox.run_checkpoints(interval=0.01))
    await eventually(lambda: threads, 10, "a checkpoint")
    task.cancel()
    assert threads and threads[0] != threading.get_ident()
    busy, frames, done = real()
    assert busy == 0 and frames == done > 0
    outbox.put([_message("a", Priority.EVENT)])  # the WAL is reused from its start
    assert wal.stat().st_size == frames_before
    assert outbox.depth == 10_001
    outbox.close()
