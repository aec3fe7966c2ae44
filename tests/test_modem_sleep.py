"""The modem's UART sleep and its DTR line (firmware/net/cellpower.py, sim/modems/radio.py): with a DTR pin in the board
file the firmware turns the sleep on (SIM7080G AT+CSCLK=1, BG9x AT+QSCLK=1), drives DTR low while it talks and high
when it is done, and the modem then idles at its DRX figure instead of its awake idle current during the PSM active
time; a module left asleep by the previous cycle still answers the next one; without a DTR pin the sleep is never
turned on. The model, with DTR high, ignores the UART as the modules do. Expected currents come from the cited
figures (sim/modems/power.py, the board files), never from a run."""

import json
import socketserver
import threading

import pytest
from fieldnode import boards
from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.hwbus import HwBus
from fieldnode.sim.modems import create, power
from fieldnode.sim.modems.radio import UART_QUIET_MS
from fieldnode.sim.runtime import run

SLEEP_ON = {"sim7080g": "AT+CSCLK=1", "bg95": "AT+QSCLK=1"}
HOUR_MS = 3_600_000


# -- the model on its own (CPython) --------------------------------------------------------------------------------
class Rig:
    def __init__(self, name):
        self.clock = VirtualClock()
        self.m = create(name, self.clock, {"power": "on", "network": {"attach_ms": 2000}})
        self.wait(self.m.BOOT_MS + 3000)  # booted and registered
        self.at("ATE0")

    def now(self):
        return self.clock.now_ms()

    def wait(self, ms):
        self.clock.advance(ms)
        self.m.poll(self.now())
        return self.m.read(65536)

    def at(self, line, ms=100):
        self.m.write(line.encode() + b"\r")
        return self.wait(ms)


@pytest.mark.parametrize("name", ["sim7080g", "bg95"])
def test_asleep_with_dtr_high_the_model_ignores_at_and_answers_after_dtr_low(name):
    r = Rig(name)
    m = r.m
    assert r.at(SLEEP_ON[name]) == b"\r\nOK\r\n"
    # DTR is not driven (high): once the host has been quiet for a while the module sleeps and stops listening
    r.wait(UART_QUIET_MS)
    assert m.uart_asleep(r.now()) and m.power_state == "idle_drx"
    assert r.at("AT", 2000) == b"" and m.ignored == 3
    assert m.received[-1] == SLEEP_ON[name]  # the command never reached the module
    # DTR low wakes it; its UART is back after the family's wake time, not before
    m.dtr(0, r.now())
    assert r.at("AT", 0) == b"" and m.ignored == 6
    r.wait(m.DTR_WAKE_MS)
    assert r.at("AT") == b"\r\nOK\r\n"
    # held low, it stays awake however long the host says nothing (and draws its awake idle current)
    r.wait(HOUR_MS)
    assert not m.uart_asleep(r.now()) and m.power_state == "idle"
    assert r.at("AT") == b"\r\nOK\r\n"
    # high again: asleep after the quiet time, deaf again
    m.dtr(1, r.now())
    r.wait(UART_QUIET_MS - 1)
    assert m.power_state == "idle"
    r.wait(1)
    assert m.power_state == "idle_drx" and r.at("AT") == b""


def test_without_uart_sleep_dtr_high_changes_nothing():
    r = Rig("sim7080g")
    r.wait(HOUR_MS)  # sleep never turned on (AT+CSCLK=0 after every start): awake and listening
    assert r.m.power_state == "idle" and r.at("AT") == b"\r\nOK\r\n" and r.m.ignored == 0


# -- board files ---------------------------------------------------------------------------------------------------
def test_dtr_is_wired_where_the_hardware_has_it():
    assert boards.load("lilygo-t-sim7080g-s3")["modem"]["dtr"] == 42  # LilyGO's pin table: DTR IO42
    assert boards.load("lowpower-ref")["modem"]["dtr"] == 27  # the project's own design: an RTC GPIO
    assert "dtr" not in boards.load("esp32-devkitc-bg95")["modem"]


@pytest.mark.parametrize("dtr,expect", [(21, "GPIO21 is already used by buses.sensors.sda"),
                                        (4, "GPIO4 is already used by modem.pwrkey"),
                                        (35, "GPIO35 is input-only on the ESP32"),
                                        (49, "not a GPIO number")])
def test_a_bad_dtr_pin_names_the_field(tmp_path, dtr, expect):
    from fieldnode.errors import ConfigError

    d = json.loads(boards.load("lowpower-ref").path.read_text())
    d["modem"]["dtr"] = dtr
    p = tmp_path / "lowpower-ref.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match="field 'modem.dtr'") as e:
        boards.load(p)
    assert expect in str(e.value)


# -- the firmware on the virtual board ------------------------------------------------------------------------------
def _psm(active_s):
    return {"link": {"psm": {"tau_s": 21600, "active_s": active_s}}}


def _modem_events(b, since=0):
    return [(e["t"], e["state"]) for e in b.events if e["kind"] == "modem" and e["t"] >= since]


def test_with_dtr_the_firmware_turns_sleep_on_and_the_active_time_is_spent_asleep(make_run):
    ref = boards.load("lowpower-ref")
    assert ref["modem"]["dtr"] is not None
    run = make_run(board="lowpower-ref", duration="1h", environment={"preset": "quiet"}, config=_psm(60))
    run.setup()
    b = run.devices[0].board
    c = b.run_cycle()  # the first cycle at boot sends an uplink
    assert c.end == "deepsleep" and "link down" not in c.output, c.output
    assert "AT+CSCLK=1" in b.modem.received
    assert b.modem.dtr_level == 1  # left high by link.down(): the module may sleep
    b.sleep_until_wake(c)
    seq = _modem_events(b)
    states = [s for _, s in seq]
    # the uplink's connection ends, then T3324 (60 s) asleep between paging occasions, then PSM; never awake idle
    i = states.index("idle_drx")
    assert states[i - 1:i + 2] == ["connected", "idle_drx", "psm"], seq
    t_sleep, t_psm = seq[i][0], seq[i + 1][0]
    assert t_psm - t_sleep == 60_000
    drx = b.modem.power_figure("idle_drx")[0]
    assert drx == pytest.approx(b.modem.PROFILE.drx_ma(1280))  # the scenario's default paging cycle
    assert b.energy.charge_mc(t_psm, t_sleep, part="modem") == pytest.approx(drx * 60)
    # ten times less than awake idle at the board file's figure would have cost over the same minute
    assert drx * 10 < ref.power("modem_idle_ma")


def test_a_wake_with_dtr_high_from_the_last_cycle_still_talks_to_the_modem(make_run):
    # An uplink every cycle (10 min) and a 30 min active time: each wake finds the modem registered, not in PSM,
    # asleep with DTR high as the previous cycle's link.down() left it.
    cfg = dict(_psm(1800), policy={"sample_s": 600, "summary_s": 600, "uplink_s": 600})
    run = make_run(board="lowpower-ref", duration="1h", environment={"preset": "quiet"}, config=cfg)
    run.setup()
    b = run.devices[0].board
    m = b.modem
    c = b.run_cycle()
    assert c.end == "deepsleep" and "link down" not in c.output, c.output
    b.sleep_until_wake(c)
    for _ in range(2):
        now = b.clock.now_ms()
        assert m.state == "on" and m.uart_asleep(now) and m.power_state == "idle_drx"
        before = len(m.received)
        c = b.run_cycle()
        assert c.end == "deepsleep" and "link down" not in c.output, c.output
        assert m.ignored == 0  # DTR went low before the first byte: nothing was lost
        sent = m.received[before:]
        assert "AT+CSCLK=1" in sent and any(x.startswith("AT+CASEND") for x in sent)
        assert "off" not in [s for _, s in _modem_events(b, now)]  # not pressed off for not answering
        b.sleep_until_wake(c)
    assert run.uplinks.get(run.devices[0].device_id, 0) >= 3


@pytest.mark.parametrize("board", ["m5stack-atom-lite", "m5stack-core2"])
def test_without_dtr_the_firmware_never_turns_sleep_on(make_run, board):
    assert "dtr" not in boards.load(board)["modem"]
    run = make_run(board=board, duration="1h", environment={"preset": "quiet"}, config=_psm(60))
    run.setup()
    b = run.devices[0].board
    c = b.run_cycle()
    assert c.end == "deepsleep" and "link down" not in c.output, c.output
    assert any(x.startswith("AT+CASEND") for x in b.modem.received)
    assert not any("SCLK" in x for x in b.modem.received), b.modem.received
    b.sleep_until_wake(c)
    # the active time is spent awake (the module never sleeps with AT+CSCLK=0): the cost of having no DTR line
    assert "idle_drx" not in [s for _, s in _modem_events(b)]


# -- both drivers against both models on the MicroPython runtime ---------------------------------------------------
PWRKEY, DTR = 4, 5


class _UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(b"ACK:" + data, self.client_address)


@pytest.fixture(scope="module")
def collector():
    u = socketserver.UDPServer(("127.0.0.1", 0), _UDP)
    threading.Thread(target=u.serve_forever, daemon=True).start()
    yield u.server_address[1]
    u.shutdown()
    u.server_close()


DRIVERS = {"sim7080g": ("sim7080g", "SIM7080G"), "bg95": ("bg9x", "BG9x")}


@pytest.mark.parametrize("name", ["sim7080g", "bg95"])
@pytest.mark.parametrize("wired", [True, False])
def test_each_driver_wakes_a_sleeping_modem_with_dtr_and_never_sleeps_one_without(name, wired, collector, compiled):
    clock = VirtualClock()
    m = create(name, clock, {"power": "off", "dns": {"uni.soracom.io": f"127.0.0.1:{collector}"}})
    pins = []

    def on_pin(p, v, t):
        pins.append((p, v, len(m.received)))
        if p == PWRKEY:
            m.pwrkey(v, t)
        elif p == DTR:
            m.dtr(v, t)

    bus = HwBus(clock, uart={1: m}, on_pin=on_pin)
    mod, cls = DRIVERS[name]
    dtr = f"machine.Pin({DTR}, machine.Pin.OUT)" if wired else "None"
    code = f"""
import machine, json
from net.{mod} import {cls}
link = {cls}(machine.UART(1, 115200), {{"psm": {{"tau_s": 21600, "active_s": 1800}}}},
             pwrkey=machine.Pin({PWRKEY}, machine.Pin.OUT), dtr={dtr})
ok = link.up(120000)
r = link.send(b"hi", 5000) if ok else None
link.down(psm=True)
print(json.dumps({{"up": ok, "err": link.last_error, "reply": r.decode() if r else None}}))
"""
    try:
        for cycle in range(2):  # the second: a new process, as after a deep sleep, with the modem as the first left it
            n = len(m.received)
            r = run(code, bus=bus, timeout=60, extra_path=[compiled])
            assert r.rc == 0, r.out + r.err
            got = json.loads(r.out.strip().splitlines()[-1])
            assert got == {"up": True, "err": None, "reply": "ACK:hi"}, got
            sent = m.received[n:]
            if wired:
                assert SLEEP_ON[name] in sent
                # DTR low before the first command of the cycle, high after the last
                lows = [k for p, v, k in pins if p == DTR and v == 0 and k >= n]
                assert lows and lows[0] == n, pins
                assert m.dtr_level == 1
            else:
                assert not any("SCLK" in x for x in sent)
            clock.advance(5 * 60_000)  # the MCU deep-sleeps; T3324 keeps the modem out of PSM
            m.poll(clock.now_ms())
            assert m.state == "on"
            assert m.uart_asleep(clock.now_ms()) is wired
            assert m.power_state == ("idle_drx" if wired else "idle")
            if cycle:
                # the second cycle found it awake or woke it with DTR, never took it for off: no PWRKEY press (a
                # BG95 held for the driver's 750 ms press would switch off, PWRKEY_OFF_MS)
                assert not [p for p, _, k in pins if p == PWRKEY and k >= n], pins
            if cycle and wired:
                # SIM7080G: the driver waits DTR_WAKE_MS and nothing is lost; BG9x: no published wake time, so the
                # first ATs go unheard until the model's 600 ms have passed, and the driver's longer sync covers it
                assert (m.ignored == 0) if name == "sim7080g" else (m.ignored > 0)
    finally:
        bus.close()


def test_the_low_power_board_saves_the_active_time_at_idle_minus_drx(make_run, tmp_path, monkeypatch):
    # The same 12 h of lowpower-ref with a 60 s active time, with its DTR pin and with a copy of its board file
    # that has none (the firmware as it was before: no UART sleep). The difference is the uplinks' active time
    # spent at the DRX figure instead of the board file's awake idle current, less the MCU's few ms of DTR wake.
    ref = boards.load("lowpower-ref")
    runs = {}
    for wired in (True, False):
        if not wired:
            d = json.loads(ref.path.read_text())
            del d["modem"]["dtr"]
            (tmp_path / "lowpower-ref.json").write_text(json.dumps(d))
            monkeypatch.setattr(boards, "BOARDS", tmp_path)
        run = make_run(board="lowpower-ref", duration="12h", environment={"preset": "quiet"}, config=_psm(60))
        runs[wired] = run.run()["devices"][0]
    on, off = runs[True], runs[False]
    assert on["uplinks"] == off["uplinks"] >= 3 and on["lost"] == off["lost"] == 0
    saved_mc = on["uplinks"] * 60 * (ref.power("modem_idle_ma") - power.SIM7080G.drx_ma(1280))
    assert off["charge_mc"] - on["charge_mc"] == pytest.approx(saved_mc, rel=0.02)
    drx_mc = on["uplinks"] * 60 * power.SIM7080G.drx_ma(1280)
    assert on["energy_parts_mc"]["modem idle_drx"] == pytest.approx(drx_mc, abs=0.05)  # the summary rounds to 0.1
