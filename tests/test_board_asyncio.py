"""asyncio on the virtual board's virtual time: MicroPython's own asyncio (frozen in the unix port) waits in
select.poll's ipoll, which the board's select (sim/mpy/select.py) runs on the virtual clock, stopping at timer
deadlines, pin edges and modem replies; sockets to 127.0.0.1 answer at once on that clock.

Each test checks the cycle's length on the virtual clock: without the virtual poll these programs would wait in
wall time (seconds to minutes), which a headless board's clock does not count, or, where they wait for a modem model
that answers only as the virtual clock moves, never finish. How long they take in wall time is make bench's
(tools/bench_board.py), not a test's."""

import socket
import threading

import pytest
from conftest import printed_values
from fieldnode.sim.board import VirtualBoard


@pytest.fixture
def board(lowpower_board):
    return lowpower_board


def _run(board, main, timeout_s=30.0):
    board.put_files({"main.py": main})
    c = board.run_cycle(timeout_s=timeout_s)
    assert c.end == "exit", (c.end, c.output)
    assert "Traceback" not in c.output, c.output
    # The cycle's length on the virtual clock: a headless board's clock moves only when the firmware waits through
    # it, so a wait that passed in wall time instead would not show here (and would hang the cycle). Wall time is
    # make bench's (tools/bench_board.py).
    return _values(c.output), c.end_ms - c.start_ms


_values = printed_values


def test_two_tasks_sleep_through_ten_virtual_seconds_in_a_fraction_of_that(board):
    v, ms = _run(board, """
import asyncio, time
n = [0, 0]
last = [0, 0]
async def tick(i, ms):
    t0 = time.ticks_ms()
    while True:
        await asyncio.sleep_ms(ms)
        n[i] += 1
        last[i] = time.ticks_diff(time.ticks_ms(), t0)
async def main():
    t0 = time.ticks_ms()
    a = asyncio.create_task(tick(0, 10))
    b = asyncio.create_task(tick(1, 25))
    await asyncio.sleep(10)
    a.cancel()
    b.cancel()
    print('counts', tuple(n))
    print('last', tuple(last))
    print('elapsed', time.ticks_diff(time.ticks_ms(), t0))
asyncio.run(main())
""")
    # 10 s: main's sleep ends at 10000 ms, queued before the tasks' wake-ups at that same instant, and cancels them
    assert v["counts"] == (999, 399)
    assert v["last"] == (9990, 9975)  # each wake-up on its own millisecond: no drift from the poll's timing
    assert v["elapsed"] == 10000
    assert ms == board.boot_ms + 10000, ms  # the boot, then main's 10 s on the virtual clock and nothing else


def test_wait_for_times_out_on_virtual_time(board):
    v, ms = _run(board, """
import asyncio, time
async def slow():
    await asyncio.sleep(3600)
    return 'late'
async def nap(ms):
    await asyncio.sleep_ms(ms)
    return ms
async def main():
    t0 = time.ticks_ms()
    try:
        await asyncio.wait_for(slow(), 30)
        print('result', 'no timeout')
    except asyncio.TimeoutError:
        print('timed_out', time.ticks_diff(time.ticks_ms(), t0))
    t1 = time.ticks_ms()
    print('in_time', (await asyncio.wait_for_ms(nap(250), 400), time.ticks_diff(time.ticks_ms(), t1)))
asyncio.run(main())
""")
    assert v["timed_out"] == 30000
    assert v["in_time"] == (250, 250)
    assert ms == board.boot_ms + 30000 + 250, ms  # the boot, the 30 s timeout and the 250 ms nap


def test_stream_reader_on_the_modem_uart_reads_replies_and_a_urc_at_the_modems_times(tmp_path):
    # M5Stack ATOM Lite + Unit CatM: the SIM7080G powers up with the board (no PWRKEY on the Grove cable). Its model
    # answers as its virtual clock passes: a wait for a reply in wall time would never see one.
    b = VirtualBoard("m5stack-atom-lite", flash_dir=tmp_path)
    try:
        v, ms = _run(b, """
import asyncio, machine, time
u = machine.UART(1, 115200, tx=32, rx=26)
async def cmd(r, w, text, t0):
    w.write(text + b'\\r')
    await w.drain()
    lines = []
    while True:
        line = (await asyncio.wait_for_ms(r.readline(), 5000)).strip()
        if line:
            lines.append(line.decode())
        if line in (b'OK', b'ERROR'):
            return lines, time.ticks_diff(time.ticks_ms(), t0)
async def main():
    r = asyncio.StreamReader(u)
    w = asyncio.StreamWriter(u)
    u.read()  # the boot URCs (RDY, +CPIN: READY, ...)
    t0 = time.ticks_ms()
    print('echo_off', await cmd(r, w, b'ATE0', t0))
    print('imei', await cmd(r, w, b'AT+CGSN', t0))
    print('cereg', await cmd(r, w, b'AT+CEREG=1', t0))
    urc = (await r.readline()).strip()  # no timeout: asyncio polls with -1 until the modem registers
    while not urc:
        urc = (await r.readline()).strip()
    print('urc', (urc.decode(), time.ticks_diff(time.ticks_ms(), t0)))
asyncio.run(main())
""")
    finally:
        b.close()
    # SIM7080G model: 20 ms per simple command (sim/modems/v250.py CMD_MS); the echo of ATE0 itself comes first
    assert v["echo_off"] == (["ATE0", "OK"], 20)
    assert v["imei"][0][1] == "OK" and v["imei"][1] == 40
    assert v["cereg"] == (["OK"], 60)
    # registered (roaming, as a SORACOM SIM is: sim/modems) attach_ms = 6 s after the module powered up with the
    # board, i.e. 6000 - 70 ms (the board's boot before main.py) after t0: the poll stopped when the URC came due
    assert v["urc"] == ("+CEREG: 5", 5930)
    assert ms == b.boot_ms + 5930, ms  # the boot, then up to the registration URC: the cycle ended with it


@pytest.fixture
def tcp_echo():
    """A line echo server on 127.0.0.1 (the network beyond the access point)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(2)
    srv.settimeout(30)
    stop = threading.Event()

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            f = conn.makefile("rwb", buffering=0)
            while not stop.is_set():
                line = f.readline()
                if not line:
                    return
                f.write(b"echo " + line)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()
    th.join(5)


def test_asyncio_streams_over_a_socket_to_a_local_echo_server(tmp_path, tcp_echo):
    # ESP32-C3 on Wi-Fi: sockets pass traffic once the station is associated (1.5 s of virtual time). A task that
    # ticks every 10 ms runs beside the exchange; the echo answers within the poll's wall-time grace, so each round
    # trip takes no virtual time and the ticker's count says how long the program ran on the virtual clock.
    b = VirtualBoard("esp32-c3-devkitm", flash_dir=tmp_path)
    try:
        v, ms = _run(b, """
import asyncio, network, time
port = %d
w = network.WLAN(network.STA_IF)
w.active(True)
w.connect('fieldnode-lab', 'fieldnode')
start = time.ticks_ms()
n = [0]
async def ticker():
    while True:
        await asyncio.sleep_ms(10)
        n[0] += 1
async def main():
    t = asyncio.create_task(ticker())
    while not w.isconnected():
        await asyncio.sleep_ms(100)
    print('associated', time.ticks_diff(time.ticks_ms(), start))
    t0 = time.ticks_ms()
    r, s = await asyncio.open_connection('127.0.0.1', port)
    got = []
    for i in range(20):
        s.write(b'ping %%d\\n' %% i)
        await s.drain()
        got.append(await asyncio.wait_for(r.readline(), 10))
    print('echoed', sum(1 for i, line in enumerate(got) if line == b'echo ping %%d\\n' %% i))
    print('virtual_ms', time.ticks_diff(time.ticks_ms(), t0))
    await asyncio.sleep_ms(100)
    print('ticks', n[0])
    s.close()
    t.cancel()
asyncio.run(main())
""" % tcp_echo)
    finally:
        b.close()
    assert v["associated"] == 1500
    assert v["echoed"] == 20
    assert v["virtual_ms"] < 5  # twenty round trips, each answered within the grace: no virtual time passes
    assert v["ticks"] == 160  # 1.5 s to associate, then 100 ms: the ticker ran on the same clock throughout
    assert b.boot_ms + 1600 <= ms < b.boot_ms + 1605, ms  # association, 20 round trips in under 5 ms, 100 ms


def test_timer_and_pin_callbacks_wake_asyncio_through_thread_safe_flags(board):
    t0 = board.clock.now_ms() + board.boot_ms
    board.set_pin(4, 1, at_ms=t0 + 555)
    v, ms = _run(board, """
import asyncio, machine, time
tick = asyncio.ThreadSafeFlag()
edge = asyncio.ThreadSafeFlag()
t0 = time.ticks_ms()
machine.Timer(0, period=100, callback=lambda t: tick.set())
machine.Pin(4, machine.Pin.IN).irq(lambda p: edge.set(), machine.Pin.IRQ_RISING)
seen = []
async def on_tick():
    for _ in range(10):
        await tick.wait()
        seen.append(time.ticks_diff(time.ticks_ms(), t0))
async def on_edge():
    await edge.wait()
    return time.ticks_diff(time.ticks_ms(), t0)
async def busy():
    n = 0
    while True:
        await asyncio.sleep_ms(7)
        n += 1
        if n == 100:
            return time.ticks_diff(time.ticks_ms(), t0)
async def main():
    b = asyncio.create_task(busy())
    e = asyncio.create_task(on_edge())
    await on_tick()
    print('ticks', seen)
    print('edge', await e)
    print('busy', await b)
asyncio.run(main())
""")
    assert v["ticks"] == [100 * i for i in range(1, 11)]  # each timer period, on time, though other tasks run
    assert v["edge"] == 555
    assert v["busy"] == 700
    assert ms == board.boot_ms + 1000, ms  # ten timer periods; the other tasks took no time of their own


def test_select_poll_and_select_as_on_the_esp32(tmp_path):
    b = VirtualBoard("m5stack-atom-lite", flash_dir=tmp_path)
    try:
        v, ms = _run(b, """
import machine, select, time
u = machine.UART(1, 115200, tx=32, rx=26)
u.read()
p = select.poll()
p.register(u, select.POLLIN)
t0 = time.ticks_ms()
print('idle', (p.poll(1500), time.ticks_diff(time.ticks_ms(), t0)))
u.write(b'AT\\r')
u.read()  # the echo
t0 = time.ticks_ms()
ev = p.poll(1000)
print('reply', ([(o is u, e) for o, e in ev], time.ticks_diff(time.ticks_ms(), t0)))
print('oneshot', ([e for _, e in p.ipoll(0, 1)], [e for _, e in p.ipoll(0, 1)]))
p.modify(u, select.POLLIN | select.POLLOUT)
print('both', [e for _, e in p.poll(0)])
u.read()
p.unregister(u)
try:
    p.modify(u, select.POLLIN)
except OSError as e:
    print('modify_gone', e.errno)
r, w, x = select.select([u], [u], [], 0.5)
print('select', (len(r), len(w), len(x)))
t0 = time.ticks_ms()
print('select_idle', (select.select([u], [], [], 0.25), time.ticks_diff(time.ticks_ms(), t0)))
""")
    finally:
        b.close()
    assert v["idle"] == ([], 1500)
    assert v["reply"] == ([(True, 1)], 20)  # POLLIN when the model's OK comes due
    assert v["oneshot"] == ([1], [])  # one-shot: not reported again until modify()
    assert v["both"] == [5]
    assert v["modify_gone"] == 2  # ENOENT
    assert v["select"] == (0, 1, 0)
    assert v["select_idle"] == (([], [], []), 250)
    assert ms == b.boot_ms + 1500 + 20 + 250, ms  # the idle poll, the reply, the idle select
