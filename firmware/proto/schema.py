"""The one declaration of what a report carries. Encoder, decoder, JSON view and the SORACOM Binary Parser format
all come from these tables; change a field here (and bump proto.codec.VERSION) and every end follows.

Each field: (name, struct code, scale, unit, meaning). The wire value is an integer in the struct type (big-endian,
as SORACOM's Binary Parser and Sigfox's format read by default); value in units = wire / scale. Codes: B/b 8-bit,
H/h 16-bit, I/i 32-bit, upper case unsigned. Out-of-range values saturate at the type's limits when encoded.

A report is MAIN, then HEALTH when its flags have FLAG_HEALTH set (the device sends health on a heartbeat, after a
reset, on a diagnostics request, or when something in it changed). Names avoid the Binary Parser's reserved ones
(data, date, time, device, ...: SORACOM users docs, "Custom Format").
"""

from micropython import const

MAIN = (
    ("ts", "I", 1, "s", "time of the report, Unix seconds UTC"),
    ("flags", "B", 1, "", "event flags, FLAG_* bits"),
    ("temp", "h", 100, "degC", "temperature, Q: centi-degrees"),
    ("batt", "H", 1000, "V", "battery, millivolts"),
    ("rms", "H", 1000, "g", "vibration RMS over the window, milli-g"),
    ("p2p", "H", 1000, "g", "vibration peak-to-peak, milli-g"),
    ("zc", "H", 1, "", "zero crossings in the window"),
    ("band", "H", 1000, "g", "amplitude at the watched frequency (Goertzel), milli-g"),
)

HEALTH = (
    ("rssi", "b", 1, "dBm", "signal strength at the last attach (-128: unknown)"),
    ("qdepth", "H", 1, "", "reports waiting in the flash queue"),
    ("resets", "H", 1, "", "resets since provisioning"),
    ("rcause", "B", 1, "", "machine.reset_cause() of the last reset"),
    ("dropped", "H", 1, "", "reports dropped oldest-first by a full queue, total"),
)

# Event flag bits (MAIN field "flags").
FLAG_ANOMALY = const(0x01)  # the detector fired (baseline deviation)
FLAG_HIGH = const(0x02)  # a value above its threshold
FLAG_LOW = const(0x04)  # a value below its threshold
FLAG_BOOT = const(0x08)  # first report after a reset
FLAG_LOWBAT = const(0x10)  # battery below its threshold
FLAG_SENSOR_ERR = const(0x20)  # a sensor did not answer; its fields are 0
FLAG_HEARTBEAT = const(0x40)  # sent because the heartbeat interval passed, nothing else
FLAG_HEALTH = const(0x80)  # the HEALTH block follows MAIN

FLAG_NAMES = (
    (FLAG_ANOMALY, "anomaly"),
    (FLAG_HIGH, "high"),
    (FLAG_LOW, "low"),
    (FLAG_BOOT, "boot"),
    (FLAG_LOWBAT, "lowbat"),
    (FLAG_SENSOR_ERR, "sensor_err"),
    (FLAG_HEARTBEAT, "heartbeat"),
    (FLAG_HEALTH, "health"),
)

# Limits of each struct code, for saturation.
LIMITS = {
    "B": (0, 0xFF), "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF), "h": (-0x8000, 0x7FFF),
    "I": (0, 0xFFFFFFFF), "i": (-0x80000000, 0x7FFFFFFF),
}
SIZES = {"B": 1, "b": 1, "H": 2, "h": 2, "I": 4, "i": 4}

FLAGS_INDEX = const(1)  # position of "flags" in MAIN

# "ts" below this (2020-01-01T00:00:00Z) means the device's clock was not set when it made the report: its RTC
# counts from the 1970 epoch after a power loss (ESP32 port) until the firmware sets it from network time or from
# the collector's acknowledgement (timesync.py, which also corrects the reports it can before they are sent). All
# eight FLAGS bits are taken, so the wire format says it this way; the collector then stores its own receive time
# as the report's time and marks the report ("ts_source": "collector", "ts_device": the device's value).
TS_SYNCED = 1577836800


def fmt(fields):
    return ">" + "".join(f[1] for f in fields)


def size(fields):
    n = 0
    for f in fields:
        n += SIZES[f[1]]
    return n


def names(fields):
    return tuple(f[0] for f in fields)
