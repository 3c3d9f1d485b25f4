import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import topics
from protocols.errors import ProtocolError, RejectReason
from protocols.topics import Topic, TopicKind

identifiers = st.from_regex(topics.IDENTIFIER_PATTERN, fullmatch=True)
unit_ids = identifiers.filter(lambda u: u not in topics.RESERVED_UNIT_IDS)


def test_builders_follow_the_design_layout():
    assert topics.unit_state("net", "u1") == "glonet/v1/net/u1/state"
    assert topics.birth("net", "u1") == "glonet/v1/net/u1/birth"
    assert topics.command("net", "u1") == "glonet/v1/net/u1/cmd"
    assert topics.capacity("net", "u1", "m1") == "glonet/v1/net/u1/m1/capacity"
    assert topics.telemetry("net", "u1", "m1") == "glonet/v1/net/u1/m1/telemetry"
    assert topics.job("net", "u1", "m1") == "glonet/v1/net/u1/m1/job"
    assert topics.alarm("net", "u1", "m1") == "glonet/v1/net/u1/m1/alarm"
    assert topics.coordinator_state("net") == "glonet/v1/net/coordinator/state"
    assert topics.technician_alerts("net", "t7") == "glonet/v1/net/technicians/t7/alerts"
    assert topics.technician_replies("net", "t7") == "glonet/v1/net/technicians/t7/replies"


def test_parse_gives_typed_topics():
    assert topics.parse("glonet/v1/net/u1/m1/job") == Topic(
        TopicKind.JOB, "net", unit="u1", machine="m1"
    )
    assert topics.parse("glonet/v1/net/coordinator/state") == Topic(
        TopicKind.COORDINATOR_STATE, "net"
    )
    assert topics.parse("glonet/v1/net/technicians/t7/alerts").technician == "t7"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "glonet",
        "other/v1/net/u1/state",
        "glonet/v2/net/u1/state",
        "glonet/v1/net/u1/unknown",
        "glonet/v1/net/u1/m1/unknown",
        "glonet/v1/net/u1/m1/job/extra",
        "glonet/v1/ne+t/u1/state",
        "glonet/v1/net/u#/state",
        "glonet/v1/net//state",
        "glonet/v1/net/technicians/state",
    ],
)
def test_malformed_or_foreign_topics_raise_protocol_error(bad):
    with pytest.raises(ProtocolError) as excinfo:
        topics.parse(bad)
    assert excinfo.value.reason in (RejectReason.BAD_TOPIC, RejectReason.BAD_IDENTIFIER)


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "a#", "-leading", "x" * 65, "sp ace"])
def test_identifiers_are_validated_by_builders(bad):
    with pytest.raises(ProtocolError):
        topics.telemetry("net", "u1", bad)


def test_reserved_unit_ids_are_refused():
    with pytest.raises(ProtocolError):
        topics.unit_state("net", "coordinator")


def test_filters_and_shared_subscriptions():
    assert topics.network_filter("net") == "glonet/v1/net/#"
    assert topics.unit_filter("net", "u1") == "glonet/v1/net/u1/#"
    assert topics.shared("ingest", "glonet/v1/net/#") == "$share/ingest/glonet/v1/net/#"


@given(
    kind=st.sampled_from(list(TopicKind)),
    network=identifiers,
    unit=unit_ids,
    machine=identifiers,
    technician=identifiers,
)
def test_build_then_parse_round_trips(kind, network, unit, machine, technician):
    if kind is TopicKind.COORDINATOR_STATE:
        topic = Topic(kind, network)
    elif kind in topics.TECHNICIAN_KINDS:
        topic = Topic(kind, network, technician=technician)
    elif kind in topics.MACHINE_KINDS:
        topic = Topic(kind, network, unit=unit, machine=machine)
    else:
        topic = Topic(kind, network, unit=unit)
    assert topics.parse(topics.build(topic)) == topic


@given(st.text(max_size=120))
def test_parse_arbitrary_text_only_raises_protocol_error(text):
    try:
        parsed = topics.parse(text)
    except ProtocolError:
        return
    assert topics.build(parsed) == text


def test_retained_topics_are_the_last_value_ones():
    assert topics.is_retained(TopicKind.UNIT_STATE)
    assert topics.is_retained(TopicKind.CAPACITY)
    assert not topics.is_retained(TopicKind.TELEMETRY)
    assert not topics.is_retained(TopicKind.JOB)


def test_a_repeated_topic_is_parsed_once_and_a_refused_one_every_time() -> None:
    topic = "glonet/v1/net/u1/m1/telemetry"
    assert topics.parse(topic) is topics.parse(topic)
    for _ in range(2):
        with pytest.raises(ProtocolError):
            topics.parse("glonet/v1/net/u1/m1/nonsense")
