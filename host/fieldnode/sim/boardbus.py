"""The hardware-bus ops a virtual board adds for its MicroPython process (see ``sim/mpy/_hwbus.py`` for the frames):
flash blocks for littlefs and esp32.Partition, RTC memory and time, the microsecond clock and sleeps that stop for
the program's timers and pin edges (and select.poll's waits, which also stop for UART data: ``sim/iowait.py``),
sleep and reset requests, the watchdog, Wi-Fi and NVS. Each handler takes the request payload and returns the answer;
an ``OSError`` becomes an error status that the shim raises. Requests that end the process (deep sleep, reset) kill
it before answering.
"""

import errno
import json
import struct

from . import iowait
from .flash import PowerCut

MONO = 0x22
SLEEP = 0x21
TIME = 0x20
MONO_US, WAIT = 0x23, 0x24
PIN_WRITE, PIN_IRQ, PIN_EDGES = 0x30, 0x32, 0x33
FLASH_READ, FLASH_PROGRAM, FLASH_ERASE, PARTITIONS, OTA_BOOT, OTA_VALID = 0x60, 0x61, 0x62, 0x63, 0x64, 0x65
BOOT_INFO, RTC_MEM, RTC_SET = 0x68, 0x69, 0x6A
DEEPSLEEP, LIGHTSLEEP, RESET, FREQ, WDT_START, WDT_FEED, WAKE_CONF = 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76
WLAN, NVS_LOAD, NVS_STORE = 0x80, 0x84, 0x85

RTC_MEM_MAX = 2048  # MICROPY_HW_RTC_USER_MEM_MAX, ESP32 port


def install(board, bus) -> None:
    """Add the board's ops to ``bus`` and run ``board.tick`` before every request (watchdog, timed faults)."""
    b = board
    ops = {
        TIME: lambda p: _time(b),
        MONO: lambda p: struct.pack(">Q", b.clock.now_ms()),
        MONO_US: lambda p: struct.pack(">Q", b.read_clock_us()),
        SLEEP: lambda p: _sleep(b, struct.unpack(">I", p[:4])[0]),
        WAIT: lambda p: _wait(b, *struct.unpack(">BQQ", p[:17])),
        iowait.WAIT_IO: lambda p: iowait.handle(b, p),
        PIN_WRITE: lambda p: _pin_write(b, bus, p[0], p[1]),
        PIN_IRQ: lambda p: (b.pin_irq(p[0], p[1]), b"")[1],
        PIN_EDGES: lambda p: b"".join(struct.pack(">QBB", *e) for e in b.take_edges()),
        FLASH_READ: lambda p: _flash(b, "read", *struct.unpack(">IH", p[:6])),
        FLASH_PROGRAM: lambda p: _flash(b, "program", struct.unpack(">I", p[:4])[0], bytes(p[4:])),
        FLASH_ERASE: lambda p: _flash(b, "erase", *struct.unpack(">II", p[:8])),
        PARTITIONS: lambda p: json.dumps([x.as_list() for x in b.partitions]).encode(),
        OTA_BOOT: lambda p: _ota_boot(b, p),
        OTA_VALID: lambda p: _ota_valid(b),
        BOOT_INFO: lambda p: json.dumps(b.boot_info()).encode(),
        RTC_MEM: lambda p: _rtc_mem(b, p),
        RTC_SET: lambda p: _rtc_set(b, struct.unpack(">Q", p[:8])[0]),
        DEEPSLEEP: lambda p: b.request_end("deepsleep", ms=struct.unpack(">I", p[:4])[0]),
        LIGHTSLEEP: lambda p: json.dumps(b.lightsleep(struct.unpack(">I", p[:4])[0])).encode(),
        RESET: lambda p: b.request_end("bootloader" if p[:1] == b"\x01" else "reset"),
        FREQ: lambda p: (b.set_freq(struct.unpack(">I", p[:4])[0]), b"")[1],
        WDT_START: lambda p: (b.wdt_start(struct.unpack(">I", p[:4])[0]), b"")[1],
        WDT_FEED: lambda p: (b.wdt_feed(), b"")[1],
        WAKE_CONF: lambda p: (b.wake_conf(json.loads(p)), b"")[1],
        WLAN: lambda p: json.dumps(b.wifi.handle(json.loads(p), b.clock.now_ms())).encode(),
        NVS_LOAD: lambda p: json.dumps(b.nvs.load(p.decode())).encode(),
        NVS_STORE: lambda p: _nvs_store(b, json.loads(p)),
    }
    bus.ops.update(ops)
    inner = bus.handle

    def handle(op, payload):
        b.tick()
        return inner(op, payload)

    bus.handle = handle


def _time(b) -> bytes:
    # the RTC's time (time.time) and the clock in us (for the program's timers), one read of the clock
    us = b.read_clock_us()
    return struct.pack(">QQ", us // 1000 + b.rtc_offset_ms, us)


def _wait(b, rel: int, us: int, cap_us: int) -> bytes:
    end = b.mono_us() + us if rel else us
    return struct.pack(">QQ", b.wait_until_us(end, cap_us), end)


def _pin_write(b, bus, pin: int, value: int) -> bytes:
    # Pin.OUT is GPIO_MODE_INPUT_OUTPUT on the ESP32 port (machine_pin.c): an IRQ on an output sees its own writes
    b.drive_pin(pin, value, b.mono_us())
    if bus.on_pin:
        bus.on_pin(pin, value, b.clock.now_ms())
    return b""


def _sleep(b, ms: int) -> bytes:
    b.sleep(ms)
    return struct.pack(">Q", b.clock.now_ms() + b.rtc_offset_ms)


def _flash(b, what, addr, arg):
    try:
        if what == "read":
            return b.flash.read(addr, arg)
        if what == "program":
            b.flash.program(addr, arg)
        else:
            b.flash.erase(addr, arg)
        return b""
    except PowerCut:
        b.request_end("powercut")  # kills the process; the answer below goes nowhere
        raise OSError(errno.EIO, "power cut")
    except ValueError as e:
        raise OSError(errno.EINVAL, str(e))


def _ota_boot(b, p):
    if p:
        b.ota.set_boot(p.decode())
        return b""
    return json.dumps({"running": b.ota.running, "boot": b.ota.boot_label()}).encode()


def _ota_valid(b):
    # ESP-IDF's negative error codes do not fit the status byte: answer the code, the shim raises it.
    try:
        b.ota.mark_valid()
    except OSError as e:
        return str(e.errno).encode()
    return b""


def _rtc_mem(b, p):
    if not p:
        return b.rtc_memory
    if p[0] == 1:
        if len(p) - 1 > RTC_MEM_MAX:
            raise OSError(errno.EINVAL, "buffer too long")
        b.rtc_memory = bytes(p[1:])
    return b""


def _rtc_set(b, epoch_ms):
    b.rtc_offset_ms = epoch_ms - b.clock.now_ms()
    b.log("rtc_set", epoch_ms=epoch_ms)
    return b""


def _nvs_store(b, req):
    b.nvs.store(req["ns"], req["data"])
    return b""
