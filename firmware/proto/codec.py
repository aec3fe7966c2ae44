"""The wire format: reports, the uplink datagram, and the collector's authenticated reply. Pure logic: the device
encodes with it under MicroPython and the collector decodes with this same module under CPython.

Uplink (device -> collector), big-endian:

    0   1  VVVANNNN  V: protocol version (2; 1 is still accepted), A: a command ack follows the reports,
                     N: number of reports 1..15
    1   4  device id
    5   4  counter of the first report; report i carries counter + i
    9   .  N reports, each MAIN (17 bytes) and, when its flags say so, HEALTH (8 bytes); see proto.schema; or a
           node report (node.py: 0xFF, schema id, length, its declared layout), in a version 4 uplink
    .   3  (A only) command ack: id of the last command applied (2), commands refused in that batch (1)
    .   6  tag: HMAC-SHA256(key, "U" || all bytes above), first TAG_LEN bytes (proto.auth)

A typical single report is 1 + 4 + 4 + 17 + 6 = 32 bytes. The counter is the report's sequence number in the
device's flash queue (store.queue), which never reuses one: it is written with the record before the record is
ever sent. A retransmission after a lost reply repeats the same counters with the same bytes; the collector
stores each counter once and acknowledges again.

Reply (collector -> device), in the version of the uplink it answers:

    0   1  VVV0NNNN  N: number of commands 0..15
    1   4  device id
    5   4  acked: every report of this device up to this counter is stored
    9   4  (version 2 only) the collector's time when it answered: Unix seconds UTC, as a report's ts
    .   8N commands: id (2, increasing per device), op (1), key (1), value (4, signed)
    .   6  tag: HMAC-SHA256(key, "D" || all bytes above)

The direction byte in the tag input keeps an uplink from ever verifying as a reply and the reverse. The time is
under the tag like the rest, so only the collector can set a device's clock (firmware/timesync.py says when the
device takes it). Version 2 changed nothing in the uplink but its version bits, which say "this device reads the
time in the reply": a device running a version 1 app gets version 1 replies, 4 bytes shorter, which it parses as
before. A version 2 device needs a collector that knows version 2 (upgrade collectors before devices). A plain
acknowledgement is 9 + 4 + 6 = 19 bytes (15 in version 1).

Errors raise ValueError(reason, detail) with reason one of the REASON_* strings, so a collector can count them.
"""

import struct
from micropython import const

from proto import auth, schema

VERSION = const(2)  # what encode_uplink writes by default
VERSIONS = (1, 2)  # what encode_uplink writes on request; a reply answers in the uplink's version
# An uplink that carries a node report (node.py: a layout declared in the node file, marked 0xFF, with its schema
# id and length) says version 4, so that a collector from before node reports refuses it (bad_version) instead of
# misreading it; it is version 2 in everything else, and its reply is a version 2 reply. (3 stays unassigned.)
VERSION_NODE = const(4)
ACCEPTS = (1, 2, 4)  # what the collector accepts
NODE_MARK = const(0xFF)
NODE_FLAGS_OFF = const(8)
MAX_REPORTS = const(15)
MAX_CMDS = const(15)
HEADER = const(9)
CMD_ACK_LEN = const(3)
CMD_LEN = const(8)
TIME_LEN = const(4)  # the collector's time in a version 2 reply
TAG_LEN = auth.TAG_LEN
_A_BIT = const(0x10)

MAIN_FMT = schema.fmt(schema.MAIN)
HEALTH_FMT = schema.fmt(schema.HEALTH)
MAIN_LEN = schema.size(schema.MAIN)
HEALTH_LEN = schema.size(schema.HEALTH)
MAX_UPLINK = HEADER + MAX_REPORTS * (MAIN_LEN + HEALTH_LEN) + CMD_ACK_LEN + TAG_LEN
MAX_REPLY = HEADER + TIME_LEN + MAX_CMDS * CMD_LEN + TAG_LEN
MIN_UPLINK = HEADER + MAIN_LEN + TAG_LEN
FLAGS_OFF = schema.size(schema.MAIN[:schema.FLAGS_INDEX])

# Downlink operations (reply commands): (id, op, key, value).
OP_SET_THRESHOLD = const(1)  # key: threshold index (the application's table), value: new threshold, fixed point
OP_SET_INTERVAL = const(2)  # value: report interval in seconds
OP_REBOOT = const(3)
OP_DIAG = const(4)  # send the HEALTH block in the next report; key: what (reserved, 0)
OP_UPDATE = const(5)  # an app update is offered: value is its version (proto.fetch; firmware/update.py)
OPS = (OP_SET_THRESHOLD, OP_SET_INTERVAL, OP_REBOOT, OP_DIAG, OP_UPDATE)
OP_NAMES = {OP_SET_THRESHOLD: "set_threshold", OP_SET_INTERVAL: "set_interval", OP_REBOOT: "reboot",
            OP_DIAG: "diag", OP_UPDATE: "update"}

# App update fetches (proto/fetch.py) share the endpoint: their first byte is version 1 with no report, which no
# report uplink can be, and they are always FETCH_LEN bytes. (Version 2 did not change them.)
FETCH = const(0x20)
FETCH_LEN = const(24)

REASON_TRUNCATED = "truncated"
REASON_OVERSIZED = "oversized"
REASON_VERSION = "bad_version"
REASON_MALFORMED = "malformed"
REASON_TAG = "bad_tag"

_DIR_UP = b"U"
_DIR_DOWN = b"D"


def _sat(v, code):
    lo, hi = schema.LIMITS[code]
    v = int(v)
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def encode_report(values, health=None):
    """One report's bytes (what the flash queue stores) from fixed-point integers in schema.MAIN order and,
    if given, schema.HEALTH order. FLAG_HEALTH is set or cleared to match."""
    main = schema.MAIN
    if len(values) != len(main):
        raise ValueError(REASON_MALFORMED, "report needs %d values, got %d" % (len(main), len(values)))
    n = MAIN_LEN + (HEALTH_LEN if health is not None else 0)
    buf = bytearray(n)
    v = [_sat(values[i], main[i][1]) for i in range(len(main))]
    if health is not None:
        v[schema.FLAGS_INDEX] |= schema.FLAG_HEALTH
    else:
        v[schema.FLAGS_INDEX] &= ~schema.FLAG_HEALTH & 0xFF
    struct.pack_into(MAIN_FMT, buf, 0, *v)
    if health is not None:
        hf = schema.HEALTH
        if len(health) != len(hf):
            raise ValueError(REASON_MALFORMED, "health needs %d values, got %d" % (len(hf), len(health)))
        struct.pack_into(HEALTH_FMT, buf, MAIN_LEN, *[_sat(health[i], hf[i][1]) for i in range(len(hf))])
    return bytes(buf)


def report_len(buf, off, node=False):
    """Length of the report starting at ``off`` (its flags say whether HEALTH follows). ``node``: in a version 4
    uplink, where a report starting with NODE_MARK is a node report, whose length byte says how long it is."""
    if node and buf[off] == NODE_MARK:
        return 4 + buf[off + 3] + (HEALTH_LEN if buf[off + NODE_FLAGS_OFF] & schema.FLAG_HEALTH else 0)
    return MAIN_LEN + (HEALTH_LEN if buf[off + FLAGS_OFF] & schema.FLAG_HEALTH else 0)


def report_flags(raw, node=False):
    """The flags byte of one report's bytes (``node``: from a version 4 uplink, see report_len)."""
    return raw[NODE_FLAGS_OFF if node and raw[0] == NODE_MARK else FLAGS_OFF]


def fit(reports):
    """How many of ``reports`` (from the first) fit one uplink of at most MAX_UPLINK bytes (at least 1)."""
    room = MAX_UPLINK - HEADER - CMD_ACK_LEN - TAG_LEN
    n = 0
    for r in reports:
        room -= len(r)
        if room < 0 or n == MAX_REPORTS:
            break
        n += 1
    return n if n else 1


def decode_report(buf, off=0):
    """(main values tuple, health tuple or None, next offset)."""
    if off + MAIN_LEN > len(buf):
        raise ValueError(REASON_TRUNCATED, "report cut short")
    main = struct.unpack_from(MAIN_FMT, buf, off)
    off += MAIN_LEN
    health = None
    if main[schema.FLAGS_INDEX] & schema.FLAG_HEALTH:
        if off + HEALTH_LEN > len(buf):
            raise ValueError(REASON_TRUNCATED, "health block cut short")
        health = struct.unpack_from(HEALTH_FMT, buf, off)
        off += HEALTH_LEN
    return main, health, off


def encode_uplink(key, device_id, counter, reports, cmd_ack=None, version=VERSION):
    """The uplink datagram for ``reports`` (report bytes, counters counter, counter+1, ...). ``key``: bytes or
    auth.Key. ``cmd_ack``: (last applied command id, number refused) to acknowledge downlink commands.
    ``version`` 1: the uplink of an app from before replies carried the time (to test old devices); VERSION_NODE
    when ``reports`` include node reports (node.py; app.py says so: only the device knows what it queued)."""
    n = len(reports)
    if n < 1 or n > MAX_REPORTS:
        raise ValueError(REASON_MALFORMED, "1..%d reports per uplink, got %d" % (MAX_REPORTS, n))
    if version not in VERSIONS and version != VERSION_NODE:
        raise ValueError(REASON_VERSION, "protocol version %d, not one of %r" % (version, ACCEPTS))
    node = version == VERSION_NODE
    if not isinstance(key, auth.Key):
        key = auth.Key(key)
    size = HEADER + TAG_LEN + (CMD_ACK_LEN if cmd_ack is not None else 0)
    for r in reports:
        size += len(r)
    buf = bytearray(size)
    struct.pack_into(">BII", buf, 0, (version << 5) | (_A_BIT if cmd_ack is not None else 0) | n,
                     device_id, counter)
    off = HEADER
    for r in reports:
        if len(r) < (4 + 6 if node and r[0] == NODE_MARK else MAIN_LEN) or report_len(r, 0, node) != len(r):
            raise ValueError(REASON_MALFORMED, "report of %d bytes does not match its flags" % len(r))
        buf[off:off + len(r)] = r
        off += len(r)
    if cmd_ack is not None:
        struct.pack_into(">HB", buf, off, cmd_ack[0], cmd_ack[1])
        off += CMD_ACK_LEN
    buf[off:] = key.tag(_DIR_UP, memoryview(buf)[:off])
    return bytes(buf)


def uplink_length(buf):
    """Total length of the uplink at the start of ``buf`` as far as its bytes tell: 0 when more bytes are needed
    to know (a TCP stream reads on). Raises ValueError on a header that cannot start an uplink."""
    if len(buf) < 1:
        return 0
    b0 = buf[0]
    if b0 >> 5 not in ACCEPTS:
        raise ValueError(REASON_VERSION, "protocol version %d, this collector speaks 1, 2 and %d" % (
            b0 >> 5, VERSION_NODE))
    n = b0 & 0x0F
    node = b0 >> 5 == VERSION_NODE
    if b0 == FETCH:
        return FETCH_LEN
    if n == 0:
        raise ValueError(REASON_MALFORMED, "uplink with no report")
    off = HEADER
    for _ in range(n):
        if len(buf) <= off or len(buf) < off + 1 + (NODE_FLAGS_OFF if node and buf[off] == NODE_MARK else FLAGS_OFF):
            return 0
        off += report_len(buf, off, node)
    return off + (CMD_ACK_LEN if b0 & _A_BIT else 0) + TAG_LEN


class Uplink:
    """A parsed (not yet verified) uplink. ``verify(key)`` checks the tag; ``reports()`` decodes."""

    def __init__(self, data):
        if len(data) > MAX_UPLINK:
            raise ValueError(REASON_OVERSIZED, "%d bytes, at most %d" % (len(data), MAX_UPLINK))
        if len(data) < HEADER + 1:
            raise ValueError(REASON_TRUNCATED, "%d bytes, an uplink has at least %d" % (len(data), MIN_UPLINK))
        b0, self.device_id, self.counter = struct.unpack_from(">BII", data, 0)
        if b0 == FETCH:
            raise ValueError(REASON_MALFORMED, "a fetch request (proto.fetch), not a report uplink")
        need = uplink_length(data)
        if need == 0 or need > len(data):
            raise ValueError(REASON_TRUNCATED, "%d bytes, the header announces more" % len(data))
        if need < len(data):
            raise ValueError(REASON_MALFORMED, "%d bytes after the tag" % (len(data) - need))
        self.data = data
        self.version = b0 >> 5
        self.node = self.version == VERSION_NODE  # its reports may be node reports (report_len)
        self.count = b0 & 0x0F
        self.body_end = len(data) - TAG_LEN
        self.cmd_ack = None
        if b0 & _A_BIT:
            self.cmd_ack = struct.unpack_from(">HB", data, self.body_end - CMD_ACK_LEN)
        if self.counter + self.count - 1 > 0xFFFFFFFF:
            raise ValueError(REASON_MALFORMED, "counter wraps")

    def verify(self, key):
        if not isinstance(key, auth.Key):
            key = auth.Key(key)
        mv = memoryview(self.data)
        return auth.equal(key.tag(_DIR_UP, mv[:self.body_end]), mv[self.body_end:])

    def raw_reports(self):
        """[(counter, report bytes)] in order."""
        out = []
        off = HEADER
        for i in range(self.count):
            n = report_len(self.data, off, self.node)
            out.append((self.counter + i, bytes(self.data[off:off + n])))
            off += n
        return out


def encode_reply(key, device_id, acked, cmds=(), now=None):
    """The collector's reply: ``acked`` counter and up to MAX_CMDS commands (id, op, key, value). ``now``: the
    collector's time (Unix seconds) for a version 2 reply; None makes a version 1 reply (to a version 1 uplink)."""
    if len(cmds) > MAX_CMDS:
        raise ValueError(REASON_MALFORMED, "at most %d commands per reply" % MAX_CMDS)
    if not isinstance(key, auth.Key):
        key = auth.Key(key)
    tlen = 0 if now is None else TIME_LEN
    buf = bytearray(HEADER + tlen + CMD_LEN * len(cmds) + TAG_LEN)
    struct.pack_into(">BII", buf, 0, ((1 if now is None else 2) << 5) | len(cmds), device_id, acked)
    off = HEADER
    if tlen:
        struct.pack_into(">I", buf, off, int(now))
        off += tlen
    for c in cmds:
        struct.pack_into(">HBBi", buf, off, c[0], c[1], c[2], c[3])
        off += CMD_LEN
    buf[off:] = key.tag(_DIR_DOWN, memoryview(buf)[:off])
    return bytes(buf)


def parse_reply(key, device_id, data):
    """Verify a reply meant for ``device_id``; return (acked counter, [(id, op, key, value), ...], collector time
    or None for a version 1 reply). Raises ValueError(reason, detail) on anything else, before looking at what the
    bytes say: the time is read only from a reply whose tag verified."""
    n = len(data)
    if n < HEADER + TAG_LEN:
        raise ValueError(REASON_TRUNCATED, "reply of %d bytes" % n)
    if n > MAX_REPLY:
        raise ValueError(REASON_OVERSIZED, "reply of %d bytes" % n)
    b0 = data[0]
    v = b0 >> 5
    if v not in VERSIONS or b0 & _A_BIT:
        raise ValueError(REASON_VERSION, "reply header %02x" % b0)
    ncmd = b0 & 0x0F
    tlen = TIME_LEN if v >= 2 else 0
    if n != HEADER + tlen + CMD_LEN * ncmd + TAG_LEN:
        raise ValueError(REASON_MALFORMED, "reply of %d bytes for %d commands" % (n, ncmd))
    if not isinstance(key, auth.Key):
        key = auth.Key(key)
    mv = memoryview(data)
    if not auth.equal(key.tag(_DIR_DOWN, mv[:n - TAG_LEN]), mv[n - TAG_LEN:]):
        raise ValueError(REASON_TAG, "reply tag does not verify")
    _, dev, acked = struct.unpack_from(">BII", data, 0)
    if dev != device_id:
        raise ValueError(REASON_MALFORMED, "reply for device %d" % dev)
    now = struct.unpack_from(">I", data, HEADER)[0] if tlen else None
    cmds = []
    off = HEADER + tlen
    for _ in range(ncmd):
        cmds.append(struct.unpack_from(">HBBi", data, off))
        off += CMD_LEN
    return acked, cmds, now
