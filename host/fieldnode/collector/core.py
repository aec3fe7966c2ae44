"""The collector as a pure function of datagrams: ``Collector(db_path, registry).handle(datagram, source)``
returns the reply bytes or None. The UDP, TCP and HTTP servers (servers.py) wrap it; the simulator calls it
in-process.

Order of checks for an uplink, each failure counted by reason (REJECT_REASONS) and logged in one line:
flood (a source over its rate), the codec's structural checks (truncated, oversized, bad_version, malformed),
unknown_device, bad_tag, then the counter: a report at or below the device's last stored counter must be stored
already with the same bytes (a retransmission after a lost reply: counted as a duplicate and acknowledged again);
one that is not stored is ``too_old``, one stored with other bytes is ``replay``. Nothing of a refused uplink is
stored. Accepted reports are stored in one transaction, then the reply acknowledges the uplink's highest counter
and carries pending downlink commands. A reply to a version 2 uplink also carries the collector's clock (whole
Unix seconds, under the reply's tag): a device without a time source sets its clock from it (firmware/timesync.py),
so a Wi-Fi board after a power loss stamps its reports with wall time from its first acknowledged uplink on.

A report whose ts is before 2020 (schema.TS_SYNCED) was made while the device's clock was not set (after a power
loss, before the network gave the time): it is stored with the collector's receive time as its ts and marked
("ts_source": "collector", "ts_device": what the device said; views.report_to_dict).

Every time the collector stores comes from its ``clock`` (Unix seconds; ``time.time`` unless given: a fleet on
virtual time gives the devices' clock). Two declared ways to watch it: ``listeners`` get each event ("report",
"reject", "duplicate", "update": the live view, MQTT), ``on_uplink(fn)`` gets every datagram with its reply (None
when refused), as the wire carried them (a fleet run counts bytes and uplinks per device with it).
"""

import logging
import threading
import time

from ..registry import Registry
from .db import Store
from .fw import auth, codec, schema
from .views import report_to_dict

log = logging.getLogger("fieldnode.collector")

REJECT_REASONS = ("flood", codec.REASON_TRUNCATED, codec.REASON_OVERSIZED, codec.REASON_VERSION,
                  codec.REASON_MALFORMED, "unknown_device", codec.REASON_TAG, "too_old", "replay")
ALARM_FLAGS = schema.FLAG_ANOMALY | schema.FLAG_HIGH | schema.FLAG_LOW | schema.FLAG_LOWBAT | schema.FLAG_SENSOR_ERR

COMMANDS = {"set_threshold": codec.OP_SET_THRESHOLD, "set_interval": codec.OP_SET_INTERVAL,
            "reboot": codec.OP_REBOOT, "diag": codec.OP_DIAG, "update": codec.OP_UPDATE}


class RateLimit:
    """A token bucket per source address: ``rate`` datagrams a second, bursts of ``burst``."""

    def __init__(self, rate=20.0, burst=40, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._b = {}
        self._lock = threading.Lock()

    def allow(self, source: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, t = self._b.get(source, (self.burst, now))
            tokens = min(self.burst, tokens + (now - t) * self.rate)
            ok = tokens >= 1
            self._b[source] = (tokens - 1 if ok else tokens, now)
            if len(self._b) > 10000:  # forget idle sources so a scan of addresses cannot grow this forever
                for k in [k for k, (tk, tt) in self._b.items() if now - tt > 60][:5000]:
                    del self._b[k]
            return ok


def parse_command(name: str, value=0, key=0) -> tuple:
    """(op, key, value) from a command name; UsageError-style ValueError naming the choices otherwise."""
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}: one of {', '.join(COMMANDS)}")
    return COMMANDS[name], int(key), int(value)


class Collector:
    def __init__(self, db_path, registry=None, *, rate=20.0, burst=40, clock=time.time, releases=None,
                 ledger_key=None, checkpoint_every=1000):
        self.store = Store(db_path)
        from .ledger import Ledger  # every stored report also becomes a leaf of the ledger, in the same transaction

        self.ledger = Ledger(self.store, key_path=ledger_key, every=checkpoint_every, clock=clock)
        self.registry = registry if registry is not None else Registry()
        self.limit = RateLimit(rate, burst)
        self.clock = clock
        self.listeners = []  # callables(event: dict): "report", "reject", "duplicate", "update" events
        self._uplink_hooks = []  # callables(datagram, source, reply): see on_uplink()
        self._keys = {}
        self._last_log = {}
        self.stats = {"uplinks": 0, "stored": 0, "duplicates": 0, "rejected": 0}
        from .updates import Updates  # app updates (issue 9.5): fetch requests, releases from ``releases``

        self.updates = Updates(self, releases)

    def close(self):
        self.store.close()

    # --- events and logging ---
    def on_uplink(self, fn) -> None:
        """Call ``fn(datagram, source, reply)`` after every datagram ``handle()`` took, whatever became of it:
        ``reply`` is the bytes sent back, or None when it was refused. Called on the server's thread; it must not
        block, and what it raises is logged, not passed on."""
        self._uplink_hooks.append(fn)

    def _emit(self, event):
        self._call(self.listeners, event)

    @staticmethod
    def _call(fns, *args):
        for fn in list(fns):
            try:
                fn(*args)
            except Exception as e:  # a broken listener (a broker gone) must not lose the stored report
                log.warning("listener %s failed: %s", getattr(fn, "__name__", fn), e)

    def _reject(self, reason, source, detail, device_id=None):
        self.stats["rejected"] += 1
        self.store.count_reject(reason, source, detail, self.clock())
        now = time.monotonic()
        k = (source, reason)
        if now - self._last_log.get(k, -10) >= 1.0:  # one line per source and reason a second: a flood stays quiet
            self._last_log[k] = now
            log.warning("refused from %s: %s (%s)", source, reason, detail)
        self._emit({"event": "reject", "reason": reason, "source": source, "detail": detail, "device": device_id})
        return None

    def refuse(self, reason, source, detail):
        """Count and log a refusal a transport decided on its own (an HTTP body too large to read)."""
        self.stats["uplinks"] += 1
        return self._reject(reason, source, detail)

    def _key(self, device_id):
        k = self._keys.get(device_id)
        if k is None:
            raw = self.registry.key_for(device_id)
            if raw is None:
                return None
            k = self._keys[device_id] = auth.Key(raw)
        return k

    def _nodes(self, device_id):
        # the device's declared nodes by schema id (registry fact "nodes", provision --node; nodeview.py)
        dev = self.registry.get(device_id)
        return dict(dev.facts.get("nodes") or {})

    def forget_keys(self):
        """Drop cached keys (after a key rotation in the registry)."""
        self._keys.clear()

    # --- the one entry point ---
    def handle(self, datagram: bytes, source: str = "local"):
        """Verify, store and answer one uplink; the reply bytes, or None when it was refused."""
        reply = self._handle(datagram, source)
        if self._uplink_hooks:
            self._call(self._uplink_hooks, datagram, source, reply)
        return reply

    def _handle(self, datagram, source):
        self.stats["uplinks"] += 1
        if not self.limit.allow(source):
            return self._reject("flood", source, f"over {self.limit.rate:g}/s")
        if datagram[:1] == bytes((codec.FETCH,)):  # an app update fetch (updates.py), not a report uplink
            return self.updates.handle(bytes(datagram), source)
        try:
            up = codec.Uplink(bytes(datagram))
        except ValueError as e:
            return self._reject(e.args[0], source, e.args[1] if len(e.args) > 1 else "")
        key = self._key(up.device_id)
        if key is None:
            return self._reject("unknown_device", source, f"device {up.device_id} not in the registry", up.device_id)
        if not up.verify(key):
            return self._reject(codec.REASON_TAG, source, f"device {up.device_id} counter {up.counter}",
                                up.device_id)
        return self._accept(up, key, source)

    def _accept(self, up, key, source):
        st = self.store
        now = self.clock()
        dev = up.device_id
        reports = up.raw_reports()
        with st.lock:
            row = st.device(dev)
            last = row[0] if row else 0
            new, dups = [], 0
            for ctr, raw in reports:
                if ctr <= last:
                    have = st.stored_raw(dev, ctr)
                    if have is None:
                        return self._reject("too_old", source, f"device {dev} counter {ctr} <= last {last}", dev)
                    if have != raw:
                        return self._reject("replay", source, f"device {dev} counter {ctr} reused", dev)
                    dups += 1
                else:
                    new.append((ctr, raw))
            nodes = self._nodes(dev) if up.node else None  # a version 4 uplink may carry node reports
            decoded = [report_to_dict(dev, ctr, raw, received=now, nodes=nodes) for ctr, raw in new]
            gaps = 1 if new and new[0][0] > last + 1 and last > 0 else 0
            alarms = sum(1 for ctr, raw in new if codec.report_flags(raw, up.node) & ALARM_FLAGS)
            rows = [(ctr, d["ts"], codec.report_flags(raw, up.node), d, raw)
                    for (ctr, raw), d in zip(new, decoded, strict=True)]
            pending = st.store_uplink(dev, rows, at=now, source=source, top=max(last, reports[-1][0]),
                                      duplicates=dups, gaps=gaps, alarms=alarms,
                                      cmd_ack=up.cmd_ack[0] if up.cmd_ack is not None else None,
                                      max_cmds=codec.MAX_CMDS, datagram=up.data)
        self.stats["stored"] += len(new)
        self.stats["duplicates"] += dups
        if gaps:
            log.info("device %d: counters %d..%d never arrived (dropped on the device or lost)", dev, last + 1,
                     new[0][0] - 1)
        if dups:
            log.info("device %d: %d report(s) again from %s (a lost reply), acknowledged again", dev, dups, source)
            self._emit({"event": "duplicate", "device": dev, "count": dups, "source": source})
        for d in decoded:
            self._emit({"event": "report", "source": source, "report": d})
        return codec.encode_reply(key, dev, reports[-1][0], pending, int(now) if up.version >= 2 else None)

    # --- downlink and views ---
    def queue_command(self, device_id: int, cmd) -> int:
        """Queue a downlink command for a device: ``cmd`` is (op, key, value) or a name such as "reboot" or
        ("set_interval", 300). Returns its id; it rides on every reply until the device acknowledges it."""
        if isinstance(cmd, str):
            cmd = parse_command(cmd)
        elif isinstance(cmd[0], str):
            cmd = parse_command(*cmd)
        op, key, value = cmd
        if op not in codec.OPS:
            raise ValueError(f"unknown command op {op}")
        if self.registry.key_for(device_id) is None:
            raise ValueError(f"device {device_id} is not in the registry")
        return self.store.queue_command(device_id, op, key, value, self.clock())

    def status(self) -> dict:
        """What the live view shows: devices (last report, alarms), reject counters, totals."""
        devs = self.store.devices(last_report=True)
        return {"devices": devs, "rejects": self.store.rejects(), "totals": dict(self.stats)}
