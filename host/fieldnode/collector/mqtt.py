"""Publish each stored report to an MQTT broker (Mosquitto, EMQX) for fleets that outgrow one machine.

URL: ``mqtt://host[:port][/prefix]`` (port 1883 by default, prefix "fieldnode"); reports go to
``<prefix>/<device>/report`` as JSON with QoS 1, rejects to ``<prefix>/rejects``.
"""

import json
import threading
from urllib.parse import urlparse

from ..errors import NetworkError, UsageError


def parse_url(url: str):
    u = urlparse(url)
    if u.scheme != "mqtt" or not u.hostname:
        raise UsageError(f"MQTT URL {url!r} not understood", "use mqtt://host[:port][/prefix], e.g. "
                                                            "mqtt://127.0.0.1:1883/fieldnode")
    return u.hostname, u.port or 1883, (u.path.strip("/") or "fieldnode")


class MqttPublisher:
    def __init__(self, url: str, client_id="fieldnode-collector", timeout=5.0):
        import paho.mqtt.client as mqtt

        self.host, self.port, self.prefix = parse_url(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p=None: connected.set()
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as e:
            raise NetworkError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {e}",
                               "start the broker (e.g. mosquitto -p PORT) or fix --mqtt")
        self.client.loop_start()
        if not connected.wait(timeout):
            self.close()
            raise NetworkError(f"MQTT broker at {self.host}:{self.port} did not accept the connection",
                               "check the broker's log and listener settings")

    def __call__(self, event: dict):
        if event["event"] == "report":
            r = event["report"]
            self.client.publish(f"{self.prefix}/{r['device']}/report", json.dumps(r), qos=1)
        elif event["event"] == "reject":
            self.client.publish(f"{self.prefix}/rejects", json.dumps(event), qos=0)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
