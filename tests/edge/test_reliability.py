"""Reliability: whatever happens to the broker, the gateway or the OPC UA server, no job event or
alarm is lost and none arrives out of order per machine."""

import time

import pytest

from edge.config import BufferConfig
from protocols import messages
from tests.edge.support import assert_complete_job, assert_in_order_per_machine, dispatch, job_order
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

BROKER_OUTAGE_S = 30.0


def _ended(coordinator, job_id):
    return [e for e in coordinator.job_events(job_id) if e.event.value == "ended"]


def _alarms(coordinator):
    return [m.body for m in coordinator.messages(messages.Alarm)]


def _broker_connected(gateway):
    return gateway.health()["broker"]["connected"]


def _ended_at_the_plant(plant, job_id):
    """The simulated machine finished ``job_id``, whatever the gateway has seen of it."""
    job = plant.server.machines["mill-1"].jobs.find(job_id)
    return job is not None and job.actual_end is not None


def _wait_for_replayed_alarms(gateway, coordinator, count):
    """Slow and lost apart: first the broker acknowledges the replay (rate-limited, and the
    machine may be loaded), then what it acknowledged must reach the coordinator promptly."""
    wait_until(
        lambda: gateway.metric("messages_published_total", kind="alarm") >= count,
        90,
        "the broker to acknowledge the replayed alarms",
    )
    wait_until(lambda: len(_alarms(coordinator)) >= count, 10, "the acknowledged alarms")


def test_broker_outage_during_a_job_run(plant, coordinator, make_gateway, running_mosquitto):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    # 1500 simulated seconds at a time scale of 60: the job runs 25 s, ending during the outage.
    coordinator.send(dispatch(job_order("jo-1", planned_duration_s=1500)))
    wait_until(lambda: coordinator.job_events("jo-1"), what="the job accepted")
    outage_ends = time.monotonic() + BROKER_OUTAGE_S
    running_mosquitto.stop()
    wait_until(lambda: not _broker_connected(gateway), 20, "the gateway to lose the broker")
    plant.inject("alarm_burst", 1.0, "mill-1")
    wait_until(lambda: _ended_at_the_plant(plant, "jo-1"), BROKER_OUTAGE_S, "the job to end")
    wait_until(lambda: gateway.metric("alarms_total") >= 40, 20, "the alarms queued")
    # The outage itself is the scenario: the broker stays away its whole length, through many
    # reconnect attempts (reconnect_max_s is 2 s), however early the job ended.
    time.sleep(max(0.0, outage_ends - time.monotonic()))
    health = gateway.health()
    assert not health["broker"]["connected"] and health["outbox"]["depth"] > 0
    running_mosquitto.start()
    wait_until(lambda: _ended(coordinator, "jo-1"), 30, "the job ended")
    _wait_for_replayed_alarms(gateway, coordinator, 40)
    assert_complete_job(coordinator, "jo-1")
    assert len(_alarms(coordinator)) == 40
    assert_in_order_per_machine(coordinator)
    assert gateway.metric("mqtt_reconnects_total") >= 1
    states = [m.body.state.value for m in coordinator.messages(messages.UnitState)]
    assert states[-1] == "online"


def test_gateway_killed_mid_stream_and_restarted(plant, coordinator, make_gateway):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    # While the coordinator says it is offline, the gateway only buffers: the burst and the
    # job events are all in the outbox, unsent, when the gateway is killed.
    coordinator.announce("offline")
    wait_until(lambda: gateway.health()["outbox"]["held_while_coordinator_offline"])
    coordinator.send(dispatch(job_order("jo-1", planned_duration_s=120), job_order("jo-2")))
    plant.inject("alarm_burst", 1.0, "mill-1")
    wait_until(lambda: gateway.metric("alarms_total") >= 40, what="the alarms queued")
    wait_until(lambda: gateway.metric("job_events_total") >= 3, what="job events queued")
    assert not _alarms(coordinator) and not coordinator.job_events()
    gateway.kill()
    will = wait_until(lambda: _states(coordinator)[-1] == "offline" and coordinator, what="will")
    assert will.messages(messages.UnitState)[-1].body.reason == "connection lost"
    # Jobs go on while the gateway is down: the first ends unseen, the restart must report it.
    wait_until(lambda: _ended_at_the_plant(plant, "jo-1"), 30, "jo-1 to end at the plant")
    gateway.start()
    coordinator.announce("online")
    wait_until(lambda: _ended(coordinator, "jo-2"), 30, "both jobs ended")
    _wait_for_replayed_alarms(gateway, coordinator, 40)
    assert_complete_job(coordinator, "jo-1")
    assert_complete_job(coordinator, "jo-2")
    assert len(_alarms(coordinator)) == 40
    assert_in_order_per_machine(coordinator)
    online = [m for m in coordinator.messages(messages.UnitState) if m.body.state.value == "online"]
    assert len(online) >= 2
    # Again, now while the gateway is publishing: killed as soon as it has the second burst.
    coordinator.send(dispatch(job_order("jo-3", planned_duration_s=300)))
    wait_until(lambda: [e for e in coordinator.job_events("jo-3") if e.event.value == "started"])
    plant.inject("alarm_burst", 1.0, "mill-1")
    wait_until(lambda: gateway.metric("alarms_total") >= 40, what="the second burst received")
    gateway.kill()
    gateway.start()
    wait_until(lambda: _ended(coordinator, "jo-3"), 30, "the third job ended")
    wait_until(lambda: len(_alarms(coordinator)) >= 80, 20, "the second burst")
    assert len(_alarms(coordinator)) == 80
    assert_complete_job(coordinator, "jo-3")
    assert_in_order_per_machine(coordinator)


def _forwarded(coordinator):
    """What reached the coordinator through the outbox (state and birth bypass it)."""
    kinds = (messages.Telemetry, messages.Capacity, messages.JobStatus, messages.Alarm)
    return sum(len(coordinator.messages(kind)) for kind in kinds)


def test_restart_holds_the_backlog_while_the_retained_coordinator_state_is_offline(
    plant, coordinator, make_gateway
):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    coordinator.announce("offline")
    wait_until(lambda: gateway.health()["outbox"]["held_while_coordinator_offline"])
    plant.inject("alarm_burst", 1.0, "mill-1")
    wait_until(lambda: gateway.metric("alarms_total") >= 40, what="the alarms queued")
    gateway.kill()
    before = _forwarded(coordinator)
    gateway.start()
    # The retained "offline" arrives just after the SUBACK: not one backlog row may go before it,
    # and the grace period for a missing state must not release the hold either.
    held = wait_until(
        lambda: (h := gateway.health())["outbox"]["held_while_coordinator_offline"] and h, 10
    )
    # The gateway's own clock past the grace period that a missing state would have ended.
    grace_over = held["uptime_s"] + BufferConfig().coordinator_state_grace_s + 0.5
    wait_until(lambda: gateway.health()["uptime_s"] > grace_over, 10, "the grace period over")
    assert gateway.metric("messages_published_total") == 0
    assert _forwarded(coordinator) == before and not _alarms(coordinator)
    health = gateway.health()
    assert health["broker"]["connected"] and health["outbox"]["hold"] == "coordinator_offline"
    coordinator.announce("online")
    _wait_for_replayed_alarms(gateway, coordinator, 40)
    assert len(_alarms(coordinator)) == 40
    assert_in_order_per_machine(coordinator)
    assert gateway.health()["outbox"]["hold"] is None


def test_without_a_retained_coordinator_state_forwarding_starts_after_the_grace_period(
    plant, coordinator, make_gateway
):
    # A coordinator that announced itself and then cleared its retained state. A new client id:
    # a session kept from an earlier test would deliver the clearing itself, which also releases.
    coordinator.announce("online")
    coordinator.clear_state()
    gateway = make_gateway(
        plant, broker={"client_id": "gw-new-session"}, buffer={"coordinator_state_grace_s": 3}
    )
    health = wait_until(lambda: (h := gateway.health())["broker"]["connected"] and h, 10)
    assert health["outbox"]["hold"] == "awaiting_coordinator_state"
    assert gateway.metric("coordinator_online") == 0
    wait_until(
        lambda: gateway.metric("messages_published_total", kind="capacity") > 0,
        what="forwarding once the grace period is over",
    )
    health = gateway.health()
    assert (
        health["outbox"]["hold"] is None and not health["outbox"]["held_while_coordinator_offline"]
    )
    assert gateway.metric("coordinator_online") == 1
    wait_until(lambda: coordinator.messages(messages.Capacity), 10, "the capacity report")


def _states(coordinator):
    return [m.body.state.value for m in coordinator.messages(messages.UnitState)] or [None]


def test_commands_sent_while_the_gateway_is_away_are_delivered(plant, coordinator, make_gateway):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    assert gateway.stop() == 0
    coordinator.send(dispatch(job_order("jo-late")))
    gateway.start()
    wait_until(lambda: _ended(coordinator, "jo-late"), 30, "the queued dispatch executed")
    assert_complete_job(coordinator, "jo-late")


def test_opcua_server_restarted_during_a_job_run(plant, coordinator, make_gateway):
    gateway = make_gateway(plant)
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    coordinator.send(dispatch(job_order("jo-1", planned_duration_s=480)))
    wait_until(lambda: [e for e in coordinator.job_events("jo-1") if e.event.value == "started"])
    plant.inject("crash", 3.0)
    wait_until(lambda: not gateway.health()["machines"]["mill-1"]["connected"], 10, "the loss")
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"], 30, "reconnection")
    wait_until(lambda: _ended(coordinator, "jo-1"), 30, "the job ended")
    assert_complete_job(coordinator, "jo-1")
    assert_in_order_per_machine(coordinator)
    reports = [m.body for m in coordinator.messages(messages.Capacity)]
    assert any(not r.available for r in reports[1:]) and reports[-1].available
    assert gateway.metric("opcua_reconnects_total") >= 1
    # Subscriptions were restored: telemetry flows again after the restart.
    count = len(coordinator.messages(messages.Telemetry))
    wait_until(lambda: len(coordinator.messages(messages.Telemetry)) > count + 5)


def test_disk_quota_exhausted_during_a_long_outage(
    plant, coordinator, make_gateway, running_mosquitto
):
    # 12 KiB: the telemetry of a few seconds fills it; the burst of 40 alarms alone exceeds it.
    gateway = make_gateway(plant, buffer={"quota_mb": 12 / 1024})
    wait_until(lambda: gateway.health()["machines"]["mill-1"]["connected"])
    running_mosquitto.stop()
    wait_until(lambda: not _broker_connected(gateway), 20, "the gateway to lose the broker")
    wait_until(lambda: gateway.metric("messages_evicted_total") > 0, 20, "telemetry evicted")
    plant.inject("alarm_burst", 1.0, "mill-1")
    health = wait_until(
        lambda: (h := gateway.health())["outbox"]["quota_exceeded"] and h, 20, "quota exceeded"
    )
    assert "outbox quota exceeded" in " ".join(health["problems"])
    assert gateway.metric("outbox_quota_exceeded") == 1
    # The next telemetry batch after the quota filled is the one refused: wait for it.
    wait_until(lambda: gateway.metric("telemetry_dropped_total") > 0, 20, "telemetry dropped")
    assert "new telemetry is dropped" in gateway.log()
    running_mosquitto.start()
    # Generous: replay is rate-limited and the machine may be loaded; this waits, it does not time.
    wait_until(lambda: len(_alarms(coordinator)) >= 40, 90, "every alarm")
    assert len(_alarms(coordinator)) == 40
    assert_in_order_per_machine(coordinator)
    wait_until(lambda: not gateway.health()["outbox"]["quota_exceeded"], 20)
