"""The world around a simulated modem: its SIM, the cellular network as a scenario describes it, and real UDP/TCP
sockets to 127.0.0.1 that stand in for the modem's data connection.

``Scenario(dict)`` validates a scenario (see the package docstring for the keys) and raises ``ConfigError`` naming
the key and what is allowed. ``HostSocket`` is one modem socket: non-blocking, polled by the model as virtual time
passes, with a short real wait allowed while a reply is in flight so that a local collector's answer lands before
the device's virtual timeout.
"""

import ipaddress
import select
import socket
import time

from ...errors import ConfigError
from .power import DRX_CYCLES_MS

REGISTRATIONS = {"home": 1, "roaming": 5, "denied": 3, "searching": 2}
FAULT_KINDS = {"cme_error", "no_reply", "garbage", "reset", "socket_closed"}
REAL_BUDGET_S = 0.5  # real time one datagram may wait for its reply, summed over polls


def _need(cond, key, what):
    if not cond:
        raise ConfigError(f"modem scenario: {key} {what}", "see fieldnode.sim.modems for the scenario keys")


class Fault:
    def __init__(self, d: dict, i: int):
        key = f"faults[{i}]"
        _need(isinstance(d, dict), key, "must be an object such as {\"kind\": \"no_reply\", \"match\": \"AT+CSQ\"}")
        self.kind = d.get("kind")
        _need(self.kind in FAULT_KINDS, f"{key}.kind", f"must be one of {', '.join(sorted(FAULT_KINDS))}")
        self.match = str(d.get("match", "")).upper()
        self.code = int(d.get("code", 100))
        self.data = d.get("data", "\x00\xff#garbage%\xfe")
        self.times = d.get("times", 1)  # None: every time
        self.after_sends = int(d.get("after_sends", 1))
        self.at_ms = d.get("at_ms")
        _need(self.times is None or (isinstance(self.times, int) and self.times > 0), f"{key}.times",
              "must be a positive count or null (every time)")
        _need(self.kind == "socket_closed" or self.match.startswith("AT"), f"{key}.match",
              "must be the start of a command line, such as AT+CSQ")

    def fires(self, line_upper: str) -> bool:
        if self.times == 0 or not line_upper.startswith(self.match):
            return False
        if self.times is not None:
            self.times -= 1
        return True


class Scenario:
    """A validated scenario with defaults: a SORACOM-like roaming SIM in good LTE-M coverage."""

    def __init__(self, d: dict | None):
        d = dict(d or {})
        _need(isinstance(d, dict), "scenario", "must be an object")
        unknown = set(d) - {"model", "power", "sim", "imei", "network", "dns", "faults", "pwrkey_wired"}
        _need(not unknown, ", ".join(sorted(unknown)), "is not a scenario key")
        self.model = d.get("model")
        self.power_on = d.get("power", "on") == "on"
        _need(d.get("power", "on") in ("on", "off"), "power", "must be on or off")
        sim = dict(d.get("sim") or {})
        self.sim_present = bool(sim.get("present", True))
        self.iccid = str(sim.get("iccid", "8981100000123456789F"))
        self.imsi = str(sim.get("imsi", "440103123456789"))
        self.pin_locked = bool(sim.get("pin", False))
        _need(self.imsi.isdigit() and len(self.imsi) == 15, "sim.imsi", "must be 15 digits")
        self.imei = str(d.get("imei", "866123045678901"))
        net = dict(d.get("network") or {})
        reg = net.get("registration", "roaming")
        _need(reg in REGISTRATIONS, "network.registration", f"must be one of {', '.join(REGISTRATIONS)}")
        self.registration = reg
        self.attach_ms = int(net.get("attach_ms", 6000))
        self.rssi_dbm = int(net.get("rssi_dbm", -83))
        self.operator = str(net.get("operator", "NTT DOCOMO"))
        self.rtt_ms = int(net.get("rtt_ms", 400))
        self.apn = net.get("apn")  # None: any APN is accepted
        outages = net.get("outages", [])
        for o in outages:
            _need(isinstance(o, (list, tuple)) and len(o) == 2 and o[0] <= o[1], "network.outages",
                  "must be a list of [start_ms, end_ms] windows (ms after the modem was created)")
        self.outages = [(int(a), int(b)) for a, b in outages]
        psm = dict(net.get("psm") or {})
        self.psm_grant = bool(psm.get("grant", True))
        self.psm_t3412 = psm.get("t3412")  # None: grant what was requested
        self.psm_t3324 = psm.get("t3324")
        for k in ("t3412", "t3324"):
            v = psm.get(k)
            _need(v is None or (isinstance(v, str) and len(v) == 8 and not v.strip("01")), f"network.psm.{k}",
                  "must be an 8-bit string such as \"00100011\"")
        # Idle: the paging cycle the cell broadcasts (TS 36.331 defaultPagingCycle, LTE-M 0.32..2.56 s), and eDRX
        # as the network grants it: what the UE asked for (or "cycle", the network's own), with the paging time
        # window the network always sets itself (TS 24.008 10.5.5.32: 4 bits, (value + 1) x 1.28 s on LTE-M).
        self.drx_ms = net.get("drx_ms", 1280)
        _need(self.drx_ms in DRX_CYCLES_MS, "network.drx_ms", f"must be one of {', '.join(map(str, DRX_CYCLES_MS))}")
        edrx = dict(net.get("edrx") or {})
        self.edrx_grant = bool(edrx.get("grant", True))
        self.edrx_cycle = edrx.get("cycle")  # None: grant what was requested
        self.edrx_ptw = edrx.get("ptw", "0001")  # 2.56 s on LTE-M
        for k, v in (("cycle", self.edrx_cycle), ("ptw", self.edrx_ptw)):
            _need((v is None and k == "cycle") or (isinstance(v, str) and len(v) == 4 and not v.strip("01")),
                  f"network.edrx.{k}", "must be a 4-bit string such as \"0101\"")
        # Network time (NITZ, 3GPP TS 24.301 EMM INFORMATION / TS 22.042): some networks never send it.
        self.nitz = bool(net.get("nitz", True))
        self.tz = int(net.get("tz", 0))  # local time zone in quarter hours, as +CCLK's "±zz" (TS 27.007 8.15)
        _need(-48 <= self.tz <= 56, "network.tz", "must be quarter hours -48..+56 (e.g. 36 for UTC+9)")
        self.dns = dict(d.get("dns") or {})
        self.faults = [Fault(f, i) for i, f in enumerate(d.get("faults") or [])]
        self.pwrkey_wired = d.get("pwrkey_wired")

    def fault(self, kind: str, line: str):
        up = line.upper()
        for f in self.faults:
            if f.kind == kind and f.fires(up):
                return f
        return None

    def closes_after_send(self) -> bool:
        """Count one send against the socket_closed faults; True when one of them closes the socket now."""
        closed = False
        for f in self.faults:
            if f.kind == "socket_closed" and (f.times is None or f.times > 0):
                f.after_sends -= 1
                if f.after_sends <= 0:
                    if f.times is not None:
                        f.times -= 1
                    closed = True
        return closed

    def in_outage(self, rel_ms: int) -> bool:
        return any(a <= rel_ms < b for a, b in self.outages)

    def outage_end(self, rel_ms: int) -> int:
        for a, b in self.outages:
            if a <= rel_ms < b:
                return b
        return rel_ms

    def resolve(self, host: str, port: int):
        """(ip, port) for a host name as the scenario's DNS/routes say, or None when it does not resolve."""
        target = self.dns.get(host)
        if target is not None:
            if ":" in str(target):
                h, p = str(target).rsplit(":", 1)
                return h, int(p)
            return str(target), port
        try:
            ipaddress.IPv4Address(host)
            return host, port
        except ValueError:
            return None


class HostSocket:
    """One modem socket backed by a real non-blocking socket on this host."""

    def __init__(self, proto: str, addr: tuple):
        self.proto = proto
        self.addr = addr
        self.rx: list[bytes] = []  # datagrams (UDP) or segments (TCP)
        self.closed_by_peer = False
        self.sent = self.read = 0  # bytes sent / read by the host, for the families' query forms (AT+QISEND=n,0)
        self._awaiting = False
        self._budget = 0.0
        if proto == "UDP":
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s.connect(addr)
        else:
            self.s = socket.create_connection(addr, timeout=2.0)
        self.s.setblocking(False)

    def send(self, data: bytes) -> bool:
        try:
            self.s.send(data)
        except OSError:
            return False
        self._awaiting = True
        self._budget = REAL_BUDGET_S
        return True

    def poll(self, wait: bool) -> bool:
        """Take what has arrived; True when new data came. With ``wait`` and a reply in flight, wait briefly."""
        if self.s is None:
            return False
        timeout = 0.0
        if wait and self._awaiting and self._budget > 0:
            # The whole budget at the first poll: a reply lands at the first virtual instant that looks for it,
            # however long the host took to send it (a loaded machine), so virtual time does not follow wall time
            # and a fleet gives the same result on a busy host or split in shards. A reply that never comes still
            # costs REAL_BUDGET_S of wall time in all.
            timeout = self._budget
        t = time.monotonic()
        try:
            r, _, _ = select.select([self.s], [], [], timeout)
        except (OSError, ValueError):
            return False
        self._budget -= time.monotonic() - t
        got = False
        while r:
            try:
                chunk = self.s.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # ICMP port unreachable on a connected UDP socket: nobody listens; the datagram is lost.
                break
            if not chunk:
                if self.proto == "TCP":
                    self.closed_by_peer = True
                break
            self.rx.append(chunk)
            got = True
        if got:
            self._awaiting = False
        return got

    def pending(self) -> int:
        return len(self.rx[0]) if self.proto == "UDP" and self.rx else sum(len(c) for c in self.rx)

    def take(self, n: int) -> bytes:
        """Up to n bytes: the next datagram (UDP; the rest of a longer one is lost, as UDP does) or stream bytes."""
        if not self.rx:
            return b""
        if self.proto == "UDP":
            return self.rx.pop(0)[:n]
        data = b"".join(self.rx)
        self.rx = [data[n:]] if len(data) > n else []
        return data[:n]

    def close(self):
        if self.s is not None:
            try:
                self.s.close()
            finally:
                self.s = None
