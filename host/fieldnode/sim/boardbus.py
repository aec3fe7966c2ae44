"""The hardware-bus ops a virtual board adds for its MicroPython process (``sim/mpy/_hwops.py`` has the frames):
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
from .hwops import ops

RTC_MEM_MAX = 2048  # MICROPY_HW_RTC_USER_MEM_MAX, ESP32 port


def install(board, bus) -> None:
    """Register the board's ops on ``bus`` (``HwBus.register``); the board's own ``tick`` runs before every
    request through the bus's ``on_request`` hook."""
    for op, fn in handlers(board, bus).items():
        bus.register(op, fn)


def handlers(board, bus) -> dict:
    """op -> handler(payload) -> bytes for every op a board answers itself (``_hwops.py`` codes)."""
    b, o = board, ops
    pins, resets, t = board.pins, board.resets, board.time
    return {
        o.TIME: lambda p: _time(b),
        o.MONO: lambda p: struct.pack(">Q", b.clock.now_ms()),
        o.MONO_US: lambda p: struct.pack(">Q", t.read_clock_us()),
        o.SLEEP: lambda p: _sleep(b, struct.unpack(">I", p[:4])[0]),
        o.WAIT: lambda p: _wait(b, *struct.unpack(">BQQ", p[:17])),
        o.WAIT_IO: lambda p: iowait.handle(b, p),
        o.PIN_WRITE: lambda p: _pin_write(b, bus, p[0], p[1]),
        o.PIN_IRQ: lambda p: (pins.irq(p[0], p[1]), b"")[1],
        o.PIN_EDGES: lambda p: b"".join(struct.pack(">QBB", *e) for e in pins.take_edges()),
        o.FLASH_READ: lambda p: _flash(b, "read", *struct.unpack(">IH", p[:6])),
        o.FLASH_PROGRAM: lambda p: _flash(b, "program", struct.unpack(">I", p[:4])[0], bytes(p[4:])),
        o.FLASH_ERASE: lambda p: _flash(b, "erase", *struct.unpack(">II", p[:8])),
        o.PARTITIONS: lambda p: json.dumps([x.as_list() for x in b.partitions]).encode(),
        o.OTA_BOOT: lambda p: _ota_boot(b, p),
        o.OTA_VALID: lambda p: _ota_valid(b),
        o.BOOT_INFO: lambda p: json.dumps(b.boot_info()).encode(),
        o.RTC_MEM: lambda p: _rtc_mem(resets, p),
        o.RTC_SET: lambda p: (resets.rtc_set(struct.unpack(">Q", p[:8])[0]), b"")[1],
        o.DEEPSLEEP: lambda p: b.request_end("deepsleep", ms=struct.unpack(">I", p[:4])[0]),
        o.LIGHTSLEEP: lambda p: json.dumps(b.lightsleep(struct.unpack(">I", p[:4])[0])).encode(),
        o.RESET: lambda p: b.request_end("bootloader" if p[:1] == b"\x01" else "reset"),
        o.FREQ: lambda p: (b.set_freq(struct.unpack(">I", p[:4])[0]), b"")[1],
        o.WDT_START: lambda p: (resets.wdt_start(struct.unpack(">I", p[:4])[0]), b"")[1],
        o.WDT_FEED: lambda p: (resets.wdt_feed(), b"")[1],
        o.WAKE_CONF: lambda p: (pins.wake_conf(json.loads(p)), b"")[1],
        o.WLAN: lambda p: json.dumps(b.wifi.handle(json.loads(p), b.clock.now_ms())).encode(),
        o.NVS_LOAD: lambda p: json.dumps(b.nvs.load(p.decode())).encode(),
        o.NVS_STORE: lambda p: _nvs_store(b, json.loads(p)),
    }


def _time(b) -> bytes:
    # the RTC's time (time.time) and the clock in us (for the program's timers), one read of the clock
    us = b.time.read_clock_us()
    return struct.pack(">QQ", us // 1000 + b.resets.rtc_offset_ms, us)


def _wait(b, rel: int, us: int, cap_us: int) -> bytes:
    end = b.time.mono_us() + us if rel else us
    return struct.pack(">QQ", b.wait_until_us(end, cap_us), end)


def _pin_write(b, bus, pin: int, value: int) -> bytes:
    # Pin.OUT is GPIO_MODE_INPUT_OUTPUT on the ESP32 port (machine_pin.c): an IRQ on an output sees its own writes
    b.pins.drive(pin, value, b.time.mono_us())
    if bus.on_pin:
        bus.on_pin(pin, value, b.clock.now_ms())
    return b""


def _sleep(b, ms: int) -> bytes:
    b.sleep(ms)
    return struct.pack(">Q", b.clock.now_ms() + b.resets.rtc_offset_ms)


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


def _rtc_mem(resets, p):
    if not p:
        return resets.rtc_memory
    if p[0] == 1:
        if len(p) - 1 > RTC_MEM_MAX:
            raise OSError(errno.EINVAL, "buffer too long")
        resets.rtc_memory = bytes(p[1:])
    return b""


def _nvs_store(b, req):
    b.nvs.store(req["ns"], req["data"])
    return b""
