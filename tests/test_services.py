"""The shared fixtures really start services: Mosquitto delivers QoS 1 across a restart."""

import threading

import paho.mqtt.client as mqtt
import pytest

pytestmark = pytest.mark.integration


def _client(broker, client_id, clean):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.connect(broker.host, broker.port)
    return client


def test_qos1_message_is_delivered_and_survives_a_broker_restart(mosquitto):
    received: list[bytes] = []
    got = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        received.append(message.payload)
        got.set()

    # A persistent session subscribes, then goes away.
    subscriber = _client(mosquitto, "sub-1", clean=False)
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.loop_start()
    subscriber.subscribe("glonet/test/qos1", qos=1)
    assert subscribed.wait(5)
    subscriber.disconnect()
    subscriber.loop_stop()

    # A QoS 1 message is queued for it while it is away; the broker restarts in between.
    publisher = _client(mosquitto, "pub-1", clean=True)
    publisher.loop_start()
    info = publisher.publish("glonet/test/qos1", b"hello", qos=1)
    info.wait_for_publish(5)
    assert info.is_published()
    publisher.disconnect()
    publisher.loop_stop()
    mosquitto.restart()

    subscriber = _client(mosquitto, "sub-1", clean=False)
    subscriber.on_message = on_message
    subscriber.loop_start()
    try:
        assert got.wait(10), mosquitto.last_log()
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert received == [b"hello"]


def test_postgres_database_is_created_and_usable(postgres_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("select 1")).scalar() == 1
        assert conn.execute(text("select current_database()")).scalar().startswith("glonet_test_")
    engine.dispose()
