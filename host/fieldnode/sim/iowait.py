"""The host side of ``select.poll`` on a virtual board (``sim/mpy/select.py``): the ``WAIT_IO`` op.

The program's poll asks the board to run its clock until the first of: the poll's deadline, the program's next
``machine.Timer`` deadline, an input edge its ``Pin.irq`` waits for, or data readable on one of the UARTs it polls
(the modem model's replies and URCs, which come due at virtual times: ``next_change_ms``). The clock jumps from
one such instant to the next, so a poll of a minute with nothing to read costs a few steps, not a minute.

The program's sockets are real ones to 127.0.0.1: their data comes in wall time and only the program's process can
see their descriptors. So the op never waits in wall time longer than the program allows (``wall_us``): with
sockets registered the program passes 0 and waits on them itself, in short slices, whenever the board would wait
in wall time (a real-time board, or a poll with no deadline and nothing due on the virtual clock).

    payload: end_us:u64 (0: none) cap_us:u64 (0: none) wall_us:u64, then one byte per UART id to watch
    answer:  now_us:u64 flags:u8 (REALTIME: the clock follows the wall clock; IDLE: nothing was due on the
             virtual clock before the deadline, so it stood still; DATA: a watched UART has data)
"""

import struct
import time

from .hwops import ops

REALTIME, IDLE, DATA = ops.IO_REALTIME, ops.IO_IDLE, ops.IO_DATA
UART_CHECK_S = 0.01  # wall-time waits look at the watched UARTs this often (a test may feed one from a thread)


def handle(board, payload: bytes) -> bytes:
    end, cap, wall = struct.unpack(">QQQ", payload[:24])
    now, flags = wait_io(board, end, cap, wall, bytes(payload[24:]))
    return struct.pack(">QB", now, flags)


def _readable(devs) -> bool:
    return any(d.any() for d in devs)


def _next_change_us(devs, now_us: int):
    """The first instant after ``now_us`` at which a watched UART's device changes by itself (a reply due)."""
    best = None
    for d in devs:
        f = getattr(d, "next_change_ms", None)
        t = f() if f else None
        if t is not None and t * 1000 > now_us and (best is None or t * 1000 < best):
            best = t * 1000
    return best


def wait_io(board, end_us: int, cap_us: int, wall_us: int, uarts: bytes) -> tuple[int, int]:
    """Run ``board``'s clock as described in the module docstring; returns (the time reached in us, flags)."""
    pins, tb = board.pins, board.time
    devs = [board.bus.uart[u] for u in uarts if u in board.bus.uart]
    stops = [t for t in (end_us, cap_us) if t]
    stop = min(stops) if stops else None
    flags = 0
    if board.clock.realtime:
        flags |= REALTIME
        wall_end = tb.mono_us() + wall_us
        while not (pins.pending() or tb.stopped.is_set()):
            if _readable(devs):
                flags |= DATA
                break
            now = tb.mono_us()
            limit = min(t for t in (stop, wall_end) if t is not None)
            if now >= limit:
                break
            pins.changed.clear()
            if pins.pending():
                break
            pins.changed.wait(min(UART_CHECK_S, (limit - now) / 1e6 / max(board.clock.speed, 1e-6)))
            pins.apply(board.clock.now_ms())
        board.tick()
        return tb.mono_us(), flags
    while not pins.pending():
        if _readable(devs):
            flags |= DATA
            break
        now = tb.mono_us()
        if stop is not None and now >= stop:
            break
        pin = pins.next_ms()
        pin = pin * 1000 if pin is not None else None
        nxt = [t for t in (stop, pin if pin is not None and pin > now else None, _next_change_us(devs, now))
               if t is not None]
        if not nxt:
            # Nothing will happen on the virtual clock: only a pin driven from another thread (a test, a console
            # user) can end this wait. The clock stands still meanwhile; wall time is the program's to give.
            flags |= IDLE
            t_end = time.monotonic() + wall_us / 1e6
            while not (pins.pending() or tb.stopped.is_set() or _readable(devs)):
                left = t_end - time.monotonic()
                if left <= 0:
                    break
                pins.changed.clear()
                if not pins.pending():
                    pins.changed.wait(min(UART_CHECK_S, left))
                pins.apply(board.clock.now_ms())
            break
        tb.advance_us(min(nxt) - now)
        if stop is None and not (pins.pending() or _readable(devs)):
            break  # a wait without deadline goes one step at a time: the program looks at its sockets between
    if _readable(devs):
        flags |= DATA
    board.tick()
    return tb.mono_us(), flags


def wait_io_bus(bus, payload: bytes) -> bytes:
    """``WAIT_IO`` on a bare ``HwBus`` (no board: no pins, whole milliseconds): the clock runs to the deadline or
    to the first watched UART with data; with nothing due it stands still (IDLE)."""
    end, cap, wall = struct.unpack(">QQQ", payload[:24])
    devs = [bus.uart[u] for u in bytes(payload[24:]) if u in bus.uart]
    stops = [t for t in (end, cap) if t]
    flags = 0
    while True:
        if _readable(devs):
            flags |= DATA
            break
        now = bus.clock.now_ms() * 1000
        if stops and now >= min(stops):
            break
        nxt = stops + [t for t in (_next_change_us(devs, now),) if t is not None]
        if not nxt:
            flags |= IDLE
            # only another thread (a test feeding a UART) can change anything now: give it the wall time allowed
            t_end = time.monotonic() + wall / 1e6
            while time.monotonic() < t_end and not _readable(devs):
                time.sleep(UART_CHECK_S)
            break
        t = bus.clock.advance(max(1, -(-(min(nxt) - now) // 1000)))
        for d in bus.uart.values():
            d.poll(t)
    return struct.pack(">QB", bus.clock.now_ms() * 1000, flags)
