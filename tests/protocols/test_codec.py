import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import codec
from protocols import messages as m
from protocols.errors import ProtocolError, RejectReason
from protocols.ids import message_id_time_ms, new_message_id
from protocols.topics import TopicKind
from tests.protocols.samples import sample_messages

SAMPLES = sample_messages()


@pytest.mark.parametrize("message", SAMPLES, ids=lambda msg: f"{msg.SCHEMA}-{msg.seq}")
def test_every_message_round_trips(message):
    payload = codec.encode(message)
    decoded = codec.decode(payload)
    assert type(decoded) is type(message)
    assert decoded == message
    assert json.loads(payload)["schema"] == message.SCHEMA


def test_every_message_type_has_a_sample():
    assert {msg.SCHEMA for msg in SAMPLES} == set(m.MESSAGE_TYPES)


def test_message_ids_sort_by_time():
    earlier = new_message_id(1_000_000)
    later = new_message_id(1_000_001)
    assert earlier < later
    assert message_id_time_ms(later) == 1_000_001


def test_expected_type_is_enforced():
    payload = codec.encode(SAMPLES[0])
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(payload, expected=m.Telemetry)
    assert excinfo.value.reason is RejectReason.WRONG_SCHEMA
    with pytest.raises(ProtocolError):
        codec.decode_for_topic(TopicKind.JOB, payload)
    assert isinstance(codec.decode_for_topic(TopicKind.UNIT_STATE, payload), m.UnitState)


def _as_dict(message: m.Envelope) -> dict:
    return json.loads(codec.encode(message))


def test_newer_minor_version_with_unknown_fields_is_accepted():
    data = _as_dict(SAMPLES[4])
    data["version"] = "1.7"
    data["trace_id"] = "abc"
    data["body"]["operator"] = "anna"
    decoded = codec.decode(json.dumps(data))
    assert decoded.body.job_order_id == "jo-1"
    assert codec.decode_for_topic(TopicKind.JOB, json.dumps(data)) == decoded


def test_unknown_fields_in_the_current_version_are_refused():
    data = _as_dict(SAMPLES[4])
    data["body"]["operator"] = "anna"
    for decode in (codec.decode, lambda p: codec.decode_for_topic(TopicKind.JOB, p)):
        with pytest.raises(ProtocolError) as excinfo:
            decode(json.dumps(data))
        assert excinfo.value.reason is RejectReason.INVALID
        assert "operator" in excinfo.value.detail


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("2.0", RejectReason.UNSUPPORTED_VERSION),
        ("0.9", RejectReason.UNSUPPORTED_VERSION),
        ("one", RejectReason.BAD_VERSION),
        (1, RejectReason.BAD_VERSION),
    ],
)
def test_other_major_versions_are_rejected_with_a_reason(version, reason):
    data = _as_dict(SAMPLES[0])
    data["version"] = version
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(json.dumps(data))
    assert excinfo.value.reason is reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", RejectReason.NOT_UTF8),
        (b"{not json", RejectReason.NOT_JSON),
        (b"[1, 2]", RejectReason.NOT_AN_OBJECT),
        (b"{}", RejectReason.MISSING_SCHEMA),
        (b'{"schema": "weather"}', RejectReason.UNKNOWN_SCHEMA),
        (b'{"schema": "telemetry", "version": "1.0"}', RejectReason.INVALID),
        (b"[" * 100_000 + b"]" * 100_000, RejectReason.NOT_JSON),
    ],
)
def test_bad_payloads_have_reason_codes(payload, reason):
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(payload, max_size=1_000_000)
    assert excinfo.value.reason is reason


def test_payload_size_limit_on_both_sides():
    message = SAMPLES[3]
    payload = codec.encode(message)
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(payload, max_size=len(payload) - 1)
    assert excinfo.value.reason is RejectReason.TOO_LARGE
    with pytest.raises(ProtocolError):
        codec.encode(message, max_size=10)


def test_nan_is_not_a_valid_value():
    data = _as_dict(SAMPLES[3])
    text = json.dumps(data).replace("12.5", "NaN")
    with pytest.raises(ProtocolError):
        codec.decode(text)


def test_naive_timestamps_are_refused():
    data = _as_dict(SAMPLES[4])
    data["sent_at"] = "2026-11-22T08:00:00"
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(json.dumps(data))
    assert "sent_at" in excinfo.value.detail


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_decode_arbitrary_bytes_only_raises_protocol_error(payload):
    with contextlib.suppress(ProtocolError):
        codec.decode(payload)


def _mutations():
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )
    return st.tuples(
        st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0), scalar), max_size=4)
    )


def _mutate(data, choices):
    """Replace values at pseudo-randomly chosen paths of a decoded JSON document."""
    for index, replacement in choices:
        node = data
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = keys[index % len(keys)]
            child = node[key]
            if isinstance(child, dict | list) and child and index % 3:
                node = child
                index //= 3
                continue
            node[key] = replacement
            break
    return data


@settings(max_examples=400)
@given(_mutations())
def test_decode_mutated_valid_payloads_only_raises_protocol_error(case):
    message, choices = case
    data = _mutate(_as_dict(message), choices)
    try:
        decoded = codec.decode(json.dumps(data))
    except ProtocolError:
        return
    assert isinstance(decoded, m.Envelope)


def _outcome(decode, payload, expected):
    try:
        return decode(payload, expected)
    except ProtocolError as exc:
        return exc.reason


@settings(max_examples=400)
@given(_mutations(), st.sampled_from(["1.0", "1.1", "1.9", "2.1"]))
def test_fast_path_for_a_known_type_agrees_with_the_careful_path(case, version):
    """decode(expected=...) validates the JSON in pydantic-core in one pass; whatever the
    payload, it must give the same message or the same reject reason as the careful path."""
    message, choices = case
    data = _mutate(_as_dict(message), choices)
    if isinstance(data, dict):
        data["version"] = version
    payload = json.dumps(data).encode()
    expected = type(message)
    fast = _outcome(lambda p, e: codec.decode(p, expected=e), payload, expected)
    careful = _outcome(
        lambda p, e: codec._decode(p, e, codec.DEFAULT_MAX_PAYLOAD), payload, expected
    )
    assert fast == careful


@pytest.mark.parametrize(
    "text",
    ['"value": NaN', '"value": Infinity', '"value": 1e400', '"value": -Infinity'],
)
def test_non_finite_numbers_are_refused_on_the_fast_path_too(text):
    payload = codec.encode(SAMPLES[3]).decode().replace('"value":12.5', text)
    assert text in payload
    with pytest.raises(ProtocolError):
        codec.decode(payload, expected=m.Telemetry)


DISPATCH = next(s for s in SAMPLES if isinstance(s.body, m.DispatchCommand))


@pytest.mark.parametrize("quantity", [1, 40, m.MAX_JOB_QUANTITY])
def test_a_job_order_asks_for_a_whole_number_of_parts(quantity):
    data = _as_dict(DISPATCH)
    data["body"]["job_orders"][0]["quantity"] = quantity
    decoded = codec.decode(json.dumps(data), expected=m.Command)
    assert decoded.body.job_orders[0].quantity == quantity


@pytest.mark.parametrize(
    "quantity", [0, -40, m.MAX_JOB_QUANTITY + 1, 2**64, 1.5, "forty", None, [40], "NaN"]
)
def test_a_hostile_job_order_quantity_is_refused_with_a_reason(quantity):
    """What no machine can be asked for (none, negative, past the bound, a fraction, not a
    number) is refused whole, with a reason naming the field, before any gateway acts on it."""
    data = _as_dict(DISPATCH)
    data["body"]["job_orders"][0]["quantity"] = quantity
    with pytest.raises(ProtocolError) as excinfo:
        codec.decode(json.dumps(data), expected=m.Command)
    assert excinfo.value.reason is RejectReason.INVALID
    assert "quantity" in excinfo.value.detail
