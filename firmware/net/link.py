# The link interface every uplink offers (SIM7080G, BG9x, Wi-Fi), its configuration, and the 3GPP codings the
# cellular drivers share. Pure logic: imports under CPython too (fieldnode.mpcompat.install()).
#
#   link.up(deadline_ms) -> bool        power on, SIM, configure, register, activate; within deadline_ms from now
#   link.send(data, reply_timeout_ms) -> bytes | None
#                                        one datagram/message to cfg["endpoint"]; the first reply or None
#   link.down(psm=True)                  close; leave the modem in PSM when the network granted it, else off
#   link.info() -> dict                  identity, signal, registration, operator, PSM timers, history, errors
#   link.time() -> int | None            network time (cellular: NITZ via AT+CCLK?), Unix seconds UTC; None when
#                                        the network gave none (some networks never send NITZ)
#   link.last_error                      one line saying what failed last, or None
#
# Config (a dict; missing keys take the SORACOM preset below):
#   {"apn": "soracom.io", "user": "sora", "password": "sora", "rat": "catm"|"nbiot"|"both",
#    "bands": [1, 8, 18, 19] or None, "endpoint": "uni.soracom.io:23080", "transport": "udp"|"tcp",
#    "psm": {"tau_s": 3600, "active_s": 60} or None, "edrx": None}
# Wi-Fi adds {"ssid": ..., "key": ...}.
import time
from micropython import const

_HISTORY = const(16)
_ERRORS = const(8)

PRESET = {
    "apn": "soracom.io",
    "user": "sora",
    "password": "sora",
    "rat": "catm",
    "bands": None,
    "endpoint": "uni.soracom.io:23080",
    "transport": "udp",
    "psm": {"tau_s": 3600, "active_s": 60},
    "edrx": None,
}
RATS = ("catm", "nbiot", "both")
TRANSPORTS = ("udp", "tcp")

# +CEREG <stat> (3GPP TS 27.007 section 10.1.22)
REG_NAMES = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming"}


def config(cfg=None):
    # The link configuration with defaults filled in; raises ValueError naming the field and what is allowed.
    out = {}
    for k in PRESET:
        out[k] = PRESET[k]
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise ValueError("link config must be a dict of settings, got %s" % type(cfg).__name__)
    for k in cfg:
        out[k] = cfg[k]
    for k in ("apn", "user", "password", "endpoint"):
        if not isinstance(out[k], str):
            raise ValueError("link config: %s must be a string, got %r" % (k, out[k]))
    if not out["apn"] or len(out["apn"]) > 100:
        raise ValueError("link config: apn must be 1..100 characters (3GPP TS 23.003 section 9.1), e.g. soracom.io")
    for k in ("apn", "user", "password"):
        if '"' in out[k] or "\r" in out[k] or "\n" in out[k]:
            raise ValueError("link config: %s may not contain quotes or line breaks (it goes into an AT command)" % k)
    if out["rat"] not in RATS:
        raise ValueError("link config: rat %r is not one of catm, nbiot, both" % (out["rat"],))
    if out["transport"] not in TRANSPORTS:
        raise ValueError("link config: transport %r is not one of udp, tcp" % (out["transport"],))
    endpoint(out["endpoint"])
    b = out["bands"]
    if b is not None:
        if not isinstance(b, (list, tuple)) or not b:
            raise ValueError("link config: bands must be a list of LTE band numbers such as [1, 8, 18, 19], or null")
        for x in b:
            if not isinstance(x, int) or not 1 <= x <= 88:
                raise ValueError("link config: band %r is not an LTE band number (1..88)" % (x,))
    p = out["psm"]
    if p is not None and p is not False:
        if not isinstance(p, dict) or "tau_s" not in p or "active_s" not in p:
            raise ValueError('link config: psm must be {"tau_s": <seconds>, "active_s": <seconds>} or null')
        t3412(p["tau_s"])
        t3324(p["active_s"])
    else:
        out["psm"] = None
    e = out["edrx"]
    if e is not None:
        if not isinstance(e, int) or e <= 0:
            raise ValueError("link config: edrx must be a cycle in ms such as 81920, or null")
        edrx(e)
    return out


def endpoint(text):
    # "uni.soracom.io:23080" -> ("uni.soracom.io", 23080)
    if not isinstance(text, str) or text.count(":") != 1:
        raise ValueError("link config: endpoint %r must be host:port, e.g. uni.soracom.io:23080" % (text,))
    host, port = text.split(":")
    if not host or '"' in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("link config: endpoint %r must be host:port with a port 1..65535" % (text,))
    return host, int(port)


def csq_dbm(rssi):
    # +CSQ <rssi> to dBm (3GPP TS 27.007 section 8.5): 0 -> -113 or less, 1 -> -111, 2..30 -> -109..-53,
    # 31 -> -51 or more, 99 -> unknown (None).
    if rssi is None or rssi < 0 or rssi > 31:
        return None
    return -113 + 2 * rssi


# GPRS Timer 3 (T3412 extended, 3GPP TS 24.008 section 10.5.7.4a): 3 unit bits, 5 value bits.
_T3412_UNITS = ((0b011, 2), (0b100, 30), (0b101, 60), (0b000, 600), (0b001, 3600), (0b010, 36000),
                (0b110, 1152000))
# GPRS Timer 2 (T3324, 3GPP TS 24.008 section 10.5.7.3).
_T3324_UNITS = ((0b000, 2), (0b001, 60), (0b010, 360))


def _encode(seconds, units, name):
    if seconds is None:
        return "11100000"  # 111: timer deactivated
    if not isinstance(seconds, int) or seconds < 0:
        raise ValueError("link config: psm %s must be whole seconds >= 0, got %r" % (name, seconds))
    for bits, unit in units:
        v = (seconds + unit - 1) // unit
        if v <= 31:
            return "{:03b}{:05b}".format(bits, v)
    top = units[-1][1] * 31
    raise ValueError("link config: psm %s %d s is longer than the timer can say (at most %d s)" % (name, seconds, top))


def _decode(text, units):
    if not isinstance(text, str) or len(text) != 8 or text.strip("01"):
        return None
    bits = int(text[:3], 2)
    if bits == 0b111:
        return None
    for b, unit in units:
        if b == bits:
            return unit * int(text[3:], 2)
    return None


def t3412(seconds):
    # Periodic TAU (T3412 extended) in seconds -> the 8-bit string for AT+CPSMS, rounded up to the coding.
    return _encode(seconds, _T3412_UNITS, "tau_s")


def t3324(seconds):
    # Active time (T3324) in seconds -> the 8-bit string for AT+CPSMS, rounded up to the coding.
    return _encode(seconds, _T3324_UNITS, "active_s")


def t3412_s(text):
    return _decode(text, _T3412_UNITS)


def t3324_s(text):
    return _decode(text, _T3324_UNITS)


# Earliest and latest network time taken as real: a modem's clock before NITZ reads its factory default (1980,
# 2004, 2080, ... by vendor), which must not be taken for the time. 2020-01-01 is also the line below which the
# collector takes a report's ts as not wall time (proto/schema.py, TS_SYNCED).
_TIME_MIN = 1577836800  # 2020-01-01T00:00:00Z
_TIME_MAX_YEAR = const(2069)  # two-digit years of +CCLK stop here


def civil_s(y, mo, d, h, mi, s):
    # Unix seconds of a UTC date and time (proleptic Gregorian), without time.mktime: CPython's is local time.
    yy = y - (1 if mo <= 2 else 0)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + (9 if mo <= 2 else -3)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + h * 3600 + mi * 60 + s


def clock_s(text, utc=False):
    # A modem clock string -> Unix seconds UTC, or None. "yy/MM/dd,hh:mm:ss±zz" is 3GPP TS 27.007 section 8.15
    # (+CCLK <time>: local time, zz the zone in quarter hours; without zone support the ±zz is left out);
    # Quectel's AT+QLTS gives "yyyy/MM/dd,hh:mm:ss±zz,<dst>". ``utc``: the time is already GMT (AT+QLTS=1), the
    # zone only says where the device is.
    if isinstance(text, bytes):
        text = text.decode()
    t = text.strip().strip('"')
    try:
        date, rest = t.split(",", 1)
        ymd = date.split("/")
        clock = rest[:8]
        hms = clock.split(":")
        y, mo, d = int(ymd[0]), int(ymd[1]), int(ymd[2])
        h, mi, sec = int(hms[0]), int(hms[1]), int(hms[2])
        tz = 0
        z = rest[8:11]
        if z[:1] in ("+", "-") and z[1:].isdigit():
            tz = int(z[1:]) * (-1 if z[0] == "-" else 1)
    except (ValueError, IndexError):
        return None
    if len(ymd[0]) == 2:
        y += 2000
    if len(ymd) != 3 or len(hms) != 3 or not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61):
        return None
    if y > _TIME_MAX_YEAR:
        return None
    secs = civil_s(y, mo, d, h, mi, sec) - (0 if utc else tz * 900)
    return secs if secs >= _TIME_MIN else None


class Link:
    # Common state: last error, registration history and the last few errors, for info() and diagnosis.
    def __init__(self, cfg=None):
        self.cfg = config(cfg)
        self.last_error = None
        self.errors = []
        self.history = []

    def _fail(self, msg):
        self.last_error = msg
        self.errors.append(msg)
        if len(self.errors) > _ERRORS:
            self.errors.pop(0)
        return False

    def _note_reg(self, stat):
        h = self.history
        if h and h[-1][1] == stat:
            return
        h.append((time.ticks_ms(), stat))
        if len(h) > _HISTORY:
            h.pop(0)

    def up(self, deadline_ms):
        raise NotImplementedError

    def send(self, data, reply_timeout_ms=5000):
        raise NotImplementedError

    def down(self, psm=True):
        raise NotImplementedError

    def time(self):
        return None  # no network time on this link

    def info(self):
        return {"errors": list(self.errors), "history": [REG_NAMES.get(s, str(s)) for _, s in self.history]}


# Requested eDRX value (3GPP TS 24.008 section 10.5.5.32, Extended DRX parameters): 4 bits per cycle length in
# ms; the NB-S1 table is a subset. Used with AT+CEDRXS=1,<AcT-type>,"<bits>" (TS 27.007 section 7.40; AcT-type 4
# for E-UTRAN WB-S1 (CAT-M), 5 for NB-S1).
_EDRX_WB = (5120, 10240, 20480, 40960, 61440, 81920, 102400, 122880, 143360, 163840, 327680, 655360, 1310720,
            2621440, 5242880, 10485760)
_EDRX_NB_OK = (2, 3, 5, 9, 10, 11, 12, 13, 14, 15)


def edrx(cycle_ms, nbiot=False):
    # The shortest coded eDRX cycle >= cycle_ms, as the 4-bit string.
    for i in range(16):
        if _EDRX_WB[i] >= cycle_ms and (not nbiot or i in _EDRX_NB_OK):
            return "{:04b}".format(i)
    raise ValueError("link config: edrx cycle %r ms is longer than 10485760 ms (the longest eDRX cycle)" % (cycle_ms,))


def edrx_ms(bits):
    if not isinstance(bits, str) or len(bits) != 4 or bits.strip("01"):
        return None
    return _EDRX_WB[int(bits, 2)]
