"""Soft interrupts on the virtual board: machine.Timer callbacks and Pin.irq handlers on virtual time, while the
program sleeps, busy-waits on the clock or works on the bus; stopped by deinit, light sleep and deep sleep."""

import threading

import pytest
from conftest import printed_values, wait_for
from fieldnode.sim.board import VirtualBoard


@pytest.fixture
def board(lowpower_board):
    return lowpower_board


def _run(board, main, timeout_s=20.0):
    board.put_files({"main.py": main})
    c = board.run_cycle(timeout_s=timeout_s)
    assert c.end in ("exit", "deepsleep"), (c.end, c.output)
    assert "Traceback" not in c.output, c.output
    return c


_values = printed_values


def test_periodic_timers_fire_in_order_on_virtual_time_during_sleeps(board):
    v = _values(_run(board, """
import machine, time
log = []
t0 = time.ticks_ms()
def at(name):
    return lambda t: log.append((name, time.ticks_diff(time.ticks_ms(), t0)))
a = machine.Timer(0)
a.init(period=10, mode=machine.Timer.PERIODIC, callback=at('a'))
b = machine.Timer(1, period=25, callback=at('b'))
time.sleep_ms(400)
time.sleep(0.6)
print('counts', (sum(1 for e in log if e[0] == 'a'), sum(1 for e in log if e[0] == 'b')))
print('times_a', [e[1] for e in log if e[0] == 'a'])
print('times_b', [e[1] for e in log if e[0] == 'b'])
print('ordered', [e[1] for e in log] == sorted(e[1] for e in log))
print('repr', repr(repr(a)))
a.deinit()
n = len(log)
time.sleep_ms(100)
print('after_deinit', len(log) - n)
print('elapsed', time.ticks_diff(time.ticks_ms(), t0))
"""))
    assert v["counts"] == (100, 40)  # 1 s of sleep: a 10 ms timer 100 times, a 25 ms one 40 times
    assert v["times_a"] == list(range(10, 1001, 10))  # each at its own virtual time
    assert v["times_b"] == list(range(25, 1001, 25))
    assert v["ordered"] is True
    assert v["repr"] == "Timer(0, mode=PERIODIC, period=10)"
    assert v["after_deinit"] == 4  # b (25 ms) still runs: 1025..1100; a stopped
    assert v["elapsed"] == 1100


def test_callbacks_reach_a_loop_that_busy_waits_on_the_clock(board):
    # Without delivery in the loop the flag never sets and the cycle hangs (a "hang", not "exit").
    c = _run(board, """
import machine, time
done = []
t0 = time.ticks_ms()
machine.Timer(0, mode=machine.Timer.ONE_SHOT, period=50, callback=lambda t: done.append(time.ticks_ms()))
while not done:
    pass_ = time.ticks_ms()
print('fired_at', time.ticks_diff(done[0], t0))
n = [0]
def count(t):
    n[0] += 1
tim = machine.Timer(1, period=10, callback=count)
t1 = time.ticks_us()
while n[0] < 20:
    time.ticks_us()
print('twenty_in_us', time.ticks_diff(time.ticks_us(), t1))
tim.deinit()
""", timeout_s=15)
    v = _values(c.output)
    assert v["fired_at"] == 50
    assert 200_000 <= v["twenty_in_us"] <= 200_100  # 20 periods of 10 ms, seen within a poll or so


def test_timer_api_as_on_the_esp32(board):
    c = _run(board, """
import machine, time
from machine import Timer
one = []
t0 = time.ticks_ms()
t = Timer(2)
t.init(mode=Timer.ONE_SHOT, period=300, callback=lambda tm: one.append((time.ticks_diff(time.ticks_ms(), t0), tm is t)))
time.sleep_ms(100)
print('value', t.value())
print('same', Timer(2) is t)
time.sleep_ms(900)
print('one', one)
f = []
t.init(freq=50, callback=lambda tm: f.append(1))  # init restarts the count; 50 Hz = every 20 ms
time.sleep_ms(100)
t.deinit()
print('freq', len(f))
for bad in ("Timer(4)", "Timer(0, period=10, hard=True)"):
    try:
        eval(bad)
        print('bad', 'accepted')
    except ValueError as e:
        print('bad', repr(str(e)))
""")
    v = _values(c)
    assert "bad 'invalid Timer number, max 4'" in c.output  # the ESP32 has four
    assert v["value"] == 100 and v["same"] is True
    assert v["one"] == [(300, True)]  # once, with the timer as argument
    assert v["freq"] == 5
    assert v["bad"] == "hard Timers are not implemented"


def test_two_hardware_timers_on_an_esp32_c3(tmp_path):
    b = VirtualBoard("esp32-c3-devkitm", flash_dir=tmp_path)
    try:
        out = _run(b, "import machine\nmachine.Timer(1)\ntry:\n    machine.Timer(2)\nexcept ValueError as e:\n"
                      "    print('err', e)\n").output
    finally:
        b.close()
    assert "err invalid Timer number, max 2" in out


def test_light_sleep_stops_timers_and_deep_sleep_ends_them(board):
    board.put_files({"main.py": """
import machine, time
log = []
t0 = time.ticks_ms()
if machine.reset_cause() == machine.DEEPSLEEP_RESET:
    time.sleep_ms(500)
    print('after_deep', log)
else:
    machine.Timer(0, period=100, callback=lambda t: log.append(time.ticks_diff(time.ticks_ms(), t0)))
    time.sleep_ms(250)
    machine.lightsleep(1000)  # the timer group is clock-gated: no callback, no count
    time.sleep_ms(200)
    print('log', log)
    machine.deepsleep(1000)
"""})
    c1 = board.run_cycle()
    assert c1.end == "deepsleep", c1.output
    # 100, 200 before the light sleep at 250; the count resumes after it: 50 ms left -> 1300, then 1400
    assert _values(c1.output)["log"] == [100, 200, 1300, 1400]
    c2 = board.run_cycle()
    assert _values(c2.output)["after_deep"] == []


def test_pin_irq_from_the_host_while_sleeping_and_busy_waiting(board):
    t0 = board.clock.now_ms() + board.boot_ms
    board.set_pin(4, 1, at_ms=t0 + 300)  # during the sleep
    board.set_pin(4, 0, at_ms=t0 + 700)  # falling: not asked for
    board.set_pin(4, 1, at_ms=t0 + 1150)  # during the busy wait
    v = _values(_run(board, """
import machine, time
t0 = time.ticks_ms()
seen = []
p = machine.Pin(4, machine.Pin.IN)
p.irq(lambda pin: seen.append((pin is p, pin.value(), time.ticks_diff(time.ticks_ms(), t0))), machine.Pin.IRQ_RISING)
time.sleep_ms(1000)
print('sleep', seen)
while len(seen) < 2:
    time.ticks_ms()
print('busy', seen[1])
p.irq(None)
"""))
    assert v["sleep"] == [(True, 1, 300)]  # mid-sleep, at its own time; the falling edge at 700 not delivered
    assert v["busy"] == (True, 1, 1150)


def test_pin_irq_from_another_thread_reaches_code_working_on_the_bus(board):
    # The program reads another pin in a loop (bus traffic, no clock, no sleep); a test thread drives pin 5 high
    # once the program says it is ready. Delivery: the simulator flags the next answer, the shim fetches the edge.
    board.put_files({"main.py": """
import machine, _hwbus
got = []
machine.Pin(5, machine.Pin.IN).irq(lambda p: got.append(p.value()))
other = machine.Pin(6, machine.Pin.IN)
_hwbus.call(_hwbus.EVENT, b'ready')
n = 0
while not got and n < 200000:
    other.value()
    n += 1
print('got', got)
"""})
    ready = threading.Event()

    def drive():
        if wait_for(lambda: any(e.get("text") == "ready" for e in board.events), timeout=15):
            board.set_pin(5, 1)
            ready.set()

    th = threading.Thread(target=drive)
    th.start()
    c = board.run_cycle(timeout_s=20)
    th.join()
    assert ready.is_set() and c.end == "exit", c.output
    assert _values(c.output)["got"] == [1]


def test_pin_irq_sees_its_own_output_and_a_failing_callback_does_not_stop_the_others(board):
    board.put_files({"main.py": """
import machine, time
seen = []
def bad(t):
    raise ValueError('boom')
machine.Timer(3, mode=machine.Timer.ONE_SHOT, period=1, callback=bad)
out = machine.Pin(8, machine.Pin.OUT)
out.irq(lambda p: seen.append(p.value()), machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
time.sleep_us(1000)
out.on()
out.off()
time.sleep_ms(1)
print('seen', seen)
"""})
    c = board.run_cycle()
    assert c.end == "exit" and "ValueError: boom" in c.output  # printed, as the port's scheduler does
    assert _values(c.output)["seen"] == [1, 0]  # Pin.OUT is input-output on the ESP32: its IRQ sees the writes


@pytest.mark.xdist_group("board-clients")
def test_timers_on_an_interactive_board_run_in_real_time_and_a_soft_reset_ends_them(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    mpremote = str(Path(sys.executable).parent / "mpremote")
    b = VirtualBoard("lowpower-ref", flash_dir=tmp_path)
    try:
        b.start()
        assert wait_for(lambda: any(e["kind"] == "firmware" and e["text"] == "boot:mounted" for e in b.events))

        def run(code):
            r = subprocess.run([mpremote, "connect", b.port, "exec", code], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr
            return _values(r.stdout)

        v = run("import machine, time\nn = []\nt0 = time.ticks_ms()\n"
                "t = machine.Timer(0, period=50, callback=lambda t: n.append(time.ticks_diff(time.ticks_ms(), t0)))\n"
                "time.sleep_ms(260)\nprint('ticks', n)")
        # wall-clock time on the interactive board: each within a few ms of its deadline
        assert len(v["ticks"]) == 5 and all(50 * (i + 1) <= t < 50 * (i + 1) + 30 for i, t in enumerate(v["ticks"]))
        # mpremote soft-resets the board before it runs code: the timer is gone with the old program
        assert run("import _irq, time\ntime.sleep_ms(100)\nprint('running', len(_irq.timers))")["running"] == 0
    finally:
        b.close()


def test_a_held_pad_keeps_its_level_until_released(board):
    # ESP32 quick reference, "Pins and GPIO": Pin.init(hold=True) keeps the pad's level; writes change nothing until
    # the hold is released (the modem's DTR is held high this way through deep sleep, net/cellpower.py)
    v = _values(_run(board, """
import machine
p = machine.Pin(27, machine.Pin.OUT, value=1, hold=True)
p.value(0)
print('held', p.value())
p.init(value=1)
p.value(0)
print('still_held', p.value())
p.init(value=0, hold=False)
print('released', p.value())
p.value(1)
print('writable', p.value())
"""))
    assert v == {"held": 1, "still_held": 1, "released": 0, "writable": 1}
