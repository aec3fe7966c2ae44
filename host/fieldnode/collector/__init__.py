"""The collector: receives uplinks over UDP, TCP and HTTP (servers.py), verifies and de-duplicates them, decodes
with the firmware's own codec (fw.py), stores into SQLite (db.py), answers with authenticated acks and downlink
commands (core.py), and optionally publishes to MQTT (mqtt.py).

    from fieldnode.collector import Collector, Servers
    c = Collector("reports.sqlite", Registry())
    reply = c.handle(datagram, "udp:10.0.0.5:4000")   # bytes or None (refused, counted by reason)
    s = Servers(c, udp=0, tcp=0, http=0); print(s.addresses)
"""

from .core import REJECT_REASONS, Collector, parse_command
from .servers import Servers

__all__ = ["Collector", "Servers", "REJECT_REASONS", "parse_command"]
