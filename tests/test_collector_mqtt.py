"""--mqtt: each stored report published to a real Mosquitto broker and read back by a real MQTT client."""

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest
from fieldnode.collector import Collector
from fieldnode.collector.mqtt import MqttPublisher
from fieldnode.errors import NetworkError
from fieldnode.registry import Registry
from proto import codec

KEY = bytes(range(16))
# Debian installs it in /usr/sbin, which is not on every user's PATH
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    if not MOSQUITTO:
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto; .ci/run installs it)")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    p = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        p.kill()
        pytest.fail("mosquitto did not start listening")
    yield port
    p.terminate()
    p.wait(10)


def test_reports_reach_a_real_broker(broker, tmp_path):
    import paho.mqtt.client as mqtt

    got, subscribed = [], threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-reader")
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("lab/#", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    sub.connect("127.0.0.1", broker)
    sub.loop_start()
    assert subscribed.wait(10)

    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(9, KEY)
    col = Collector(tmp_path / "c.sqlite", reg)
    pub = MqttPublisher(f"mqtt://127.0.0.1:{broker}/lab")
    col.listeners.append(pub)
    reports = [codec.encode_report((1_763_776_000 + i, 0, 2100 + i, 3600, 1, 2, 3, 4)) for i in range(3)]
    assert col.handle(codec.encode_uplink(KEY, 9, 1, reports), "t") is not None
    col.handle(b"\x21" + bytes(31), "t")  # refused: published to lab/rejects
    deadline = time.monotonic() + 10
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    pub.close()
    sub.loop_stop()
    col.close()
    reps = [m for t, m in got if t == "lab/9/report"]
    assert [m["counter"] for m in reps] == [1, 2, 3] and reps[2]["temp"] == 21.02
    assert any(t == "lab/rejects" and m["reason"] for t, m in got)


def test_an_absent_broker_is_a_one_line_network_error():
    with pytest.raises(NetworkError, match="cannot reach the MQTT broker"):
        MqttPublisher(f"mqtt://127.0.0.1:{_free_port()}/x")
