"""What the wake cycle keeps in RTC memory across deep sleep (``machine.RTC().memory()``, up to 2048 bytes on the
ESP32; kept across deep sleep and resets, lost with power).

Fixed layout, 68 bytes, checked by magic, version and a CRC so that garbage after a power-on is never taken for
state:

    0  2  magic b"FN"
    2  1  layout version
    3  1  boot attempts without a completed cycle (boot-loop guard)
    4  1  last alarm flags (detector ACTIVE bit and absolute-threshold bits)
    5  1  failed uplinks in a row
    6  2  cycles since power-on (saturates)
    8  4  last summary, device seconds
   12  4  last delivered uplink, device seconds
   16  4  last uplink attempt, device seconds
   20  2  maximum vibration RMS since the last summary, milli-g
   22  2  config generation that the last cycle used
   24  1  length of the detector state (TAIL: it is in the tail below)
   25 32  detector state (core.detector.STATE_SIZE bytes, zero padded)
   57  4  first queue counter made since the power-on while the clock was unset (0: none or not known)
   61  4  highest queue counter ever put on the wire since the power-on
   65  1  reserved
   66  2  CRC-16/CCITT of bytes 0..65

A detector state longer than 32 bytes (the seasonal profile of core/surprise.py, up to DET_MAX bytes) goes in a
tail after the 68 bytes: its length (2 bytes), the state, and a CRC-16 of both. A torn or stale tail only loses the
detector's state (it warms up again); the head stays valid.

The two counters let timesync.py correct, exactly, the times of reports queued before the clock was set: RTC
memory is lost exactly when the RTC's time is, so both describe the power-on the clock counts from.
"""

import struct

from micropython import const

from core.usage import crc16 as _crc16  # CRC-16/CCITT-FALSE, the one the usage meter's blobs carry too

SIZE = const(68)
_VERSION = const(3)
_FMT = "<2sBBBBHIIIHHB32sIIB"
_DET_MAX = const(32)  # inline in the head
DET_MAX = const(512)  # in the tail (issue budget: a detector's state is at most 512 bytes)
_TAIL = const(255)


class State:
    def __init__(self):
        self.attempts = 0
        self.alarm = 0
        self.failures = 0
        self.cycles = 0
        self.last_summary = 0
        self.last_uplink = 0
        self.last_attempt = 0
        self.rms_max = 0
        self.detector = b""
        self.config_gen = 0
        self.clock_from = 0
        self.sent_hw = 0
        self.fresh = True  # no valid state was found (power-on, or first boot)

    def load(self, raw):
        """Take the state from ``raw`` (bytes from RTC memory); keep defaults if it is not a valid state."""
        if raw is None or len(raw) < SIZE:
            return self
        if raw[0:2] != b"FN" or raw[2] != _VERSION:
            return self
        if _crc16(raw, SIZE - 2) != struct.unpack_from("<H", raw, SIZE - 2)[0]:
            return self
        (_, _, self.attempts, self.alarm, self.failures, self.cycles, self.last_summary, self.last_uplink,
         self.last_attempt, self.rms_max, self.config_gen, n, det, self.clock_from, self.sent_hw,
         _) = struct.unpack_from(_FMT, raw, 0)
        self.detector = bytes(det[:n]) if n <= _DET_MAX else b""
        if n == _TAIL:
            self.detector = _tail(raw)
        self.fresh = False
        return self

    def dump(self):
        det = bytes(self.detector)
        if len(det) > DET_MAX:
            raise ValueError("detector state of %d bytes does not fit RTC memory's %d" % (len(det), DET_MAX))
        inline = len(det) <= _DET_MAX
        buf = bytearray(SIZE if inline else SIZE + 4 + len(det))
        struct.pack_into(_FMT, buf, 0, b"FN", _VERSION, min(self.attempts, 255), self.alarm & 0xFF,
                         min(self.failures, 255), min(self.cycles, 0xFFFF), self.last_summary & 0xFFFFFFFF,
                         self.last_uplink & 0xFFFFFFFF, self.last_attempt & 0xFFFFFFFF, min(self.rms_max, 0xFFFF),
                         self.config_gen & 0xFFFF, len(det) if inline else _TAIL, det if inline else b"",
                         self.clock_from & 0xFFFFFFFF, self.sent_hw & 0xFFFFFFFF, 0)
        struct.pack_into("<H", buf, SIZE - 2, _crc16(buf, SIZE - 2))
        if not inline:
            struct.pack_into("<H", buf, SIZE, len(det))
            buf[SIZE + 2:SIZE + 2 + len(det)] = det
            struct.pack_into("<H", buf, SIZE + 2 + len(det), _crc16(memoryview(buf)[SIZE:], len(det) + 2))
        return bytes(buf)


def _tail(raw):
    # the detector state after the head, or b"" when the tail is missing, too long or fails its CRC
    if len(raw) < SIZE + 4:
        return b""
    n = struct.unpack_from("<H", raw, SIZE)[0]
    if n > DET_MAX or len(raw) < SIZE + 4 + n:
        return b""
    if _crc16(memoryview(raw)[SIZE:], n + 2) != struct.unpack_from("<H", raw, SIZE + 2 + n)[0]:
        return b""
    return bytes(raw[SIZE + 2:SIZE + 2 + n])
