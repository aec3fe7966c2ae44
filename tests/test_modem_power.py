"""What a modem draws between wakes, on the virtual board: the periodic TAU that wakes it from PSM when T3412 runs
out, and idle with DRX or eDRX. The firmware's own request code (net/cellular.py) and AT engine (net/at.py) talk
to the model on virtual time; the board skips time as a deep sleep does (VirtualBoard.advance) and books the
charge (sim/energy.py). Expected figures are worked out from the cited constants in sim/modems/power.py and the
board files, never copied from a run."""

import pytest
from fieldnode import boards
from fieldnode.sim.board import VirtualBoard
from fieldnode.sim.modems import power
from fieldnode.sim.modems.power import codings

L = codings()  # firmware/net/link.py
from net.at import AT  # noqa: E402  (importable once codings() has put the firmware on the path)
from net.cellular import Cellular  # noqa: E402

BOARD = {"sim7080g": "lowpower-ref", "bg95": "esp32-devkitc-bg95"}
SLEEP_ON = {"sim7080g": "AT+CSCLK=1", "bg95": "AT+QSCLK=1"}
HOUR_MS = 3_600_000


class Ticks:
    """time.ticks_* and sleep_ms for the firmware's AT engine, on the board's virtual clock: a wait skips virtual
    time the way the board does."""

    def __init__(self, board):
        self.board = board

    def ticks_ms(self):
        return self.board.clock.now_ms()

    def ticks_add(self, t, d):
        return t + d

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.board.advance(ms)


class Node:
    """A virtual board whose modem is powered, and the firmware's cellular driver on it (only its request and
    read-back code is used here: up() would also attach and open a context)."""

    def __init__(self, modem="sim7080g", link=None, network=None):
        self.name = modem
        net = {"attach_ms": 6000, **(network or {})}
        self.b = VirtualBoard(BOARD[modem], scenario={"modem": {"power": "on", "network": net}})
        self.m = self.b.modem
        self.ticks = Ticks(self.b)
        self.at = AT(self.m, clock=self.ticks)
        self.sent = []
        self.at.log = lambda way, data: self.sent.append(bytes(data)) if way == ">" else None
        self.link = Cellular(None, link or {}, at=self.at)
        self.cmd(b"ATE0")

    def dl(self, ms=10_000):
        return self.ticks.ticks_add(self.ticks.ticks_ms(), ms)

    def cmd(self, line, resp=None):
        return self.at.cmd(line, 1000, resp, self.dl())

    def request(self):
        """The firmware's PSM/eDRX request (Cellular._psm_request): what it sends."""
        n = len(self.sent)
        self.link._psm_request(self.dl())
        return [c.rstrip(b"\r") for c in self.sent[n:]]

    def when(self, state, after=0):
        return next(e["t"] for e in self.b.events if e["kind"] == "modem" and e["state"] == state and e["t"] >= after)

    def modem_mc(self, lo, hi):
        return self.b.energy.charge_mc(hi, lo, part="modem")

    def close(self):
        self.b.close()


@pytest.fixture
def node():
    made = []

    def make(*a, **kw):
        n = Node(*a, **kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.close()


def psm_ma(name):
    return boards.load(BOARD[name]).power("modem_psm_ma")


def enter_psm(n):
    """Registration completes after the firmware's commands; with T3324 = 0 the modem enters PSM at once."""
    n.b.advance(12_000)
    assert n.m.state == "psm"
    return n.when("psm")


@pytest.mark.parametrize("name", ["sim7080g", "bg95"])
def test_a_day_in_psm_with_t3412_1h_is_24_taus_and_their_charge(node, name):
    n = node(name, link={"psm": {"tau_s": 3600, "active_s": 0}})
    assert n.request() == [b'AT+CPSMS=1,,,"%s","00000000"' % L.t3412(3600).encode()]
    t_psm = enter_psm(n)
    # T3412 restarts when the TAU's connection ends (TS 24.301 5.3.5), so 24 TAUs take 24 x (1 h + one burst):
    # a day of PSM plus the bursts. One advance() over all of it, as one long deep sleep would skip it.
    tau_ms, tau_mc = n.m.tau_burst()
    end = t_psm + 24 * (HOUR_MS + tau_ms)
    n.b.advance(end - n.b.clock.now_ms())
    assert len(n.m.taus) == 24
    # each TAU lands on the timeline exactly when T3412 ran out, however far the board skipped
    gaps = [b - a for a, b in zip([t_psm, *n.m.taus], n.m.taus, strict=False)]
    assert gaps == [HOUR_MS] + [HOUR_MS + tau_ms] * 23
    states = [(e["t"], e["state"]) for e in n.b.events if e["kind"] == "modem" and e["t"] > t_psm]
    assert states == [x for t in n.m.taus for x in ((t, "tau"), (t + tau_ms, "psm"))]
    # the charge: PSM current x a day, plus 24 bursts (the modem leaves PSM for nothing else)
    expected = psm_ma(name) * 86_400 + 24 * tau_mc  # mA x s = mC
    assert n.modem_mc(t_psm, end) == pytest.approx(expected, rel=1e-9)
    # and the TAUs are most of it: without them the day would cost the PSM current alone
    assert n.modem_mc(t_psm, end) > 4 * psm_ma(name) * 86_400
    rows = {r["state"]: r for r in n.b.energy.report(end)["states"] if r["part"] == "modem"}
    assert rows["tau"]["ms"] == 24 * tau_ms and "nRF9160" in rows["tau"]["source"]


def test_tau_burst_figures_follow_the_cited_constants():
    ms, mc = power.SIM7080G.tau()
    assert ms == 1500 and mc == pytest.approx(105 / 3.7 * 220 / 105)
    ms, mc = power.BG95.tau(nbiot=True)
    assert ms == 2700 and mc == pytest.approx(550 / 3.7 * 193.65 / 105)


def test_a_longer_t3412_costs_less_a_day(node):
    day = {}
    for tau_s in (3600, 6 * 3600, 10 * 3600):
        n = node(link={"psm": {"tau_s": tau_s, "active_s": 0}})
        n.request()
        t_psm = enter_psm(n)
        n.b.advance(t_psm + 86_400_000 - n.b.clock.now_ms())
        tau_ms, tau_mc = n.m.tau_burst()
        granted = L.t3412_s(L.t3412(tau_s)) * 1000
        count = sum(1 for k in range(1, 30) if k * granted + (k - 1) * tau_ms < 86_400_000)
        assert len(n.m.taus) == count
        day[tau_s] = n.modem_mc(t_psm, t_psm + 86_400_000)
        assert day[tau_s] == pytest.approx(psm_ma("sim7080g") * (86_400 - count * tau_ms / 1000) + count * tau_mc)
    assert day[3600] > day[6 * 3600] > day[10 * 3600]


def test_the_model_grants_what_the_firmware_asked_for(node):
    # 5000 s is not a value T3412 can say: the firmware rounds it up to 9 x 10 min; the network grants that.
    n = node(link={"psm": {"tau_s": 5000, "active_s": 60}, "edrx": 81920})
    sent = n.request()
    assert sent == [b'AT+CPSMS=1,,,"%s","%s"' % (L.t3412(5000).encode(), L.t3324(60).encode()),
                    b'AT+CEDRXS=1,4,"%s"' % L.edrx(81920).encode()]
    n.cmd(b"AT+CEREG=4")
    n.b.advance(7000)  # registered; T3324 = 60 s keeps it reachable
    n.link._cereg(n.dl())  # the firmware reads the grant back (+CEREG mode 4)
    assert n.link.psm == {"active_s": 60, "tau_s": 5400, "t3324": "00011110", "t3412": "00001001"}
    assert n.m.psm_timers_s() == (5400, 60)
    assert n.m.edrx_granted() == (81920, 2560)  # PTW: the network's default, "0001" = 2.56 s on LTE-M
    assert n.cmd(b"AT+CEDRXRDP", b"+CEDRXRDP:") == [b'+CEDRXRDP: 4,"0101","0101","0001"']
    # the first periodic TAU comes T3412 after the attach's connection ended
    t_reg = n.m.nas_idle_since()
    n.b.advance(t_reg + 5400_000 + 10 - n.b.clock.now_ms())
    assert n.m.taus == [t_reg + 5400_000]


def test_the_network_may_grant_other_timers_and_the_model_follows_it(node):
    # the network overrides T3412 with 30 min (3 x 10 min) and the eDRX cycle with 20.48 s, as real networks do
    n = node(link={"psm": {"tau_s": 3600, "active_s": 60}, "edrx": 81920},
             network={"psm": {"t3412": "00000011"}, "edrx": {"cycle": "0010", "ptw": "0011"}})
    n.request()
    n.cmd(b"AT+CEREG=4")
    n.b.advance(7000)
    n.link._cereg(n.dl())
    assert n.link.psm["tau_s"] == 1800 and n.link.psm["active_s"] == 60
    assert n.m.edrx_granted() == (20480, 4 * 1280)
    t0 = n.m.nas_idle_since()
    n.b.advance(t0 + 2 * 1800_000 + 5000 - n.b.clock.now_ms())
    tau_ms = n.m.tau_burst()[0]
    assert n.m.taus == [t0 + 1800_000, t0 + 2 * 1800_000 + tau_ms]


def test_refused_psm_means_no_periodic_tau(node):
    n = node(link={"psm": {"tau_s": 3600, "active_s": 0}}, network={"psm": {"grant": False}})
    n.request()
    n.b.advance(3 * HOUR_MS)
    assert n.m.taus == [] and n.m.state == "on"


def idle_hour(node, name, edrx, sleep):
    """Average modem current (mA) over an hour of idle: registered, no PSM, the host quiet."""
    n = node(name, link={"psm": None, "edrx": 81920 if edrx else None})
    n.request()
    if sleep:
        n.cmd(SLEEP_ON[name].encode())
    n.b.advance(10_000)  # registered, the UART quiet
    t0 = n.b.clock.now_ms()
    n.b.advance(HOUR_MS)
    assert n.m.taus == []
    return n, n.modem_mc(t0, t0 + HOUR_MS) / 3600


@pytest.mark.parametrize("name", ["sim7080g", "bg95"])
def test_edrx_idle_averages_below_drx_idle_by_the_expected_ratio(node, name):
    prof = node(name).m.PROFILE
    drx_ms = 1280  # the scenario's default paging cycle
    n_drx, drx = idle_hour(node, name, edrx=False, sleep=True)
    n_edrx, edrx = idle_hour(node, name, edrx=True, sleep=True)
    assert n_drx.m.power_state == "idle_drx" and n_edrx.m.power_state == "idle_edrx"
    assert drx == pytest.approx(prof.drx_ma(drx_ms))
    assert edrx == pytest.approx(prof.edrx_ma(81920, 2560, drx_ms))
    # expected ratio from the constants: (floor + PO/DRX) / (floor + 2 POs per PTW / eDRX cycle)
    po, floor = prof.po_mc, prof.floor_ma
    ratio = (floor + po / (drx_ms / 1000)) / (floor + po * (2560 // drx_ms) / 81.92)
    assert drx / edrx == pytest.approx(ratio)
    assert ratio > 10


@pytest.mark.parametrize("name", ["sim7080g", "bg95"])
def test_without_uart_sleep_edrx_saves_nothing(node, name):
    # botletics/SIM7000-LTE-Shield#253: eDRX set, sleep not entered, the module stays at its idle current
    idle = boards.load(BOARD[name]).power("modem_idle_ma")
    n, edrx = idle_hour(node, name, edrx=True, sleep=False)
    assert n.m.power_state == "idle"
    assert edrx == pytest.approx(idle)


def test_drx_cycle_sets_the_idle_current(node):
    prof = power.SIM7080G
    assert prof.drx_ma(2560) == pytest.approx(0.6)  # the datasheet's point
    assert prof.drx_ma(640) > prof.drx_ma(1280) > prof.drx_ma(2560) > prof.edrx_ma(81920, 2560, 2560)
    n = node(network={"drx_ms": 2560})
    n.cmd(b"AT+CSCLK=1")
    n.b.advance(10_000)
    t0 = n.b.clock.now_ms()
    n.b.advance(HOUR_MS)
    assert n.modem_mc(t0, t0 + HOUR_MS) / 3600 == pytest.approx(0.6)


def test_after_a_tau_the_modem_stays_reachable_for_t3324_then_sleeps(node):
    n = node(link={"psm": {"tau_s": 3600, "active_s": 10}})
    n.request()
    n.cmd(SLEEP_ON["sim7080g"].encode())
    n.b.advance(20_000)
    assert n.m.state == "psm"
    t_tau = n.m.nas_idle_since() + HOUR_MS
    tau_ms, tau_mc = n.m.tau_burst()
    n.b.advance(t_tau + tau_ms + 2000 - n.b.clock.now_ms())
    assert n.m.taus == [t_tau]
    assert n.m.state == "on" and n.m.power_state == "idle_drx"  # reachable: paged at its DRX cycle
    n.b.advance(20_000)
    seq = [(e["t"] - t_tau, e["state"]) for e in n.b.events if e["kind"] == "modem" and e["t"] >= t_tau]
    assert seq == [(0, "tau"), (tau_ms, "idle_drx"), (tau_ms + 10_000, "psm")]
    expected = tau_mc + power.SIM7080G.drx_ma(1280) * 10
    assert n.modem_mc(t_tau, t_tau + tau_ms + 10_000) == pytest.approx(expected)


@pytest.mark.parametrize("network, key", [({"drx_ms": 1000}, "network.drx_ms"),
                                          ({"edrx": {"ptw": "101"}}, "network.edrx.ptw"),
                                          ({"edrx": {"cycle": 81920}}, "network.edrx.cycle")])
def test_bad_idle_settings_in_a_scenario_name_the_key(network, key):
    from fieldnode.errors import ConfigError
    from fieldnode.sim.clock import VirtualClock
    from fieldnode.sim.modems import create

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        create("sim7080g", VirtualClock(), {"network": network})
