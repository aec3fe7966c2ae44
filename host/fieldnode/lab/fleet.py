"""Fleets of virtual boards on virtual time, against one real collector: the engine of ``fieldnode sim run`` and
``make demo``.

Each device is a ``VirtualBoard`` running the real firmware bundle (compiled for the host's unix port), with its
own identity and key in the registry, its own flash image, sensors and modem; all of them send real UDP
datagrams to one ``Collector`` on 127.0.0.1. The devices advance together in slices of virtual time, so a fleet
shares one notion of "now" while each board sleeps and wakes on its own schedule. Faults come from the scenario
(``scenario.py``): power cuts inside wake cycles, coverage outages (cellular, or the access point out of
range for Wi-Fi boards), modem errors.

    run = FleetRun(scenario.load("demo-week"), home)   # a built-in scenario (tools/scenarios/), or a JSON file
    summary = run.run(progress=print)
    print(report.format_summary(summary))               # or report.write_html(path, summary, reports)

The summary says, per device and in total, what a fleet operator asks: reports generated, delivered, duplicated
and lost; alarms raised and when, against the faults injected; bytes sent; radio-on time; charge used, average
current and the battery life that gives.
"""

import dataclasses
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import boards, build
from ..collector.core import Collector
from ..collector.servers import Servers
from ..registry import Registry
from .plan import Plan
from .scenario import Scenario
from .variation import DEVICE_ID_BASE

SLICE_MS = 3600_000  # devices advance together, one virtual hour at a time

DEFAULT_CONFIG = {
    "link": {"kind": "cellular", "apn": "soracom.io", "user": "sora", "password": "sora",
             "endpoint": "uni.soracom.io:23080", "transport": "udp",
             # PSM: a periodic TAU longer than the uplink interval, and a 2 s active time: nothing waits for
             # paging after the reply, and every second the modem stays reachable costs ~12 mA.
             "psm": {"tau_s": 21600, "active_s": 2}},
    "policy": {},
    # the detector's defaults, from their one home (firmware/core/detector.py DEFAULTS), as every node has them
    "detector": {},
    "vibration": {"samples": 512, "every": 1, "bands_hz": [162.2]},
    # An absolute limit besides the baseline: the baseline adapts to a machine that stays bad, the limit does not.
    # 200 mg RMS is a starting point for a small motor; set it per machine (config or downlink set_threshold 0).
    "alarm": {"rms_high_mg": 200},
}

_LOG = re.compile(r"fieldnode: cycle (\d+): .*?seq (\d+), queue (\d+), sent (\d+), awake (\d+) ms")


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def environment(scn: Scenario) -> dict:
    from ..sim.physics import core2_demo

    env = dict(scn.environment)
    preset = env.pop("preset", None)
    if preset == "core2_demo":
        return core2_demo(bearing_start_s=float(env.pop("bearing_start", 5 * 86400)), seed=scn.seed)
    if preset == "quiet":
        return core2_demo(bearing_start_s=1e12, seed=scn.seed)
    return env


@dataclass
class DeviceRun:
    device_id: int
    board: object
    cycles: int = 0
    ends: dict = field(default_factory=dict)
    seq: int = 0
    queued: int = 0
    awake_ms: int = 0
    cuts: list = field(default_factory=list)  # virtual ms of power cuts still to come
    last_output: str = ""
    index: int = 0  # its place in the fleet: device_id - DEVICE_ID_BASE for the devices the fleet made
    rng: random.Random = field(default_factory=random.Random)  # where in a cycle its power cuts land
    clock_ppm: float = 0.0  # its RTC's error: deep sleeps last (1 + ppm/1e6) of what was asked


class FleetRun:
    """``shard`` (i, n): run only the devices whose index is i modulo n (``shards.py``); every device keeps the id,
    traits, faults and draws it has in the whole fleet."""

    def __init__(self, scn: Scenario, home: Path, workdir: Path | None = None, shard: tuple = (0, 1),
                 console: bool = False):
        self.scn = scn
        self.shard = shard
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(workdir or self.home / "fleet" / scn.name)
        self.registry = Registry(self.home / "registry.sqlite")
        self.db_path = self.workdir / "collector.sqlite"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.db_path.exists():
            self.db_path.unlink()
        self._running = None  # the DeviceRun stepping now: the collector's clock is its virtual clock
        self.collector = Collector(self.db_path, self.registry, rate=1e6, burst=1e6, clock=self._now)
        self.bytes_in: dict[int, int] = {}
        self.uplinks: dict[int, int] = {}
        self.collector.on_uplink(self._count)
        # console: also the web console on a free 127.0.0.1 port (servers.console_url; make demo prints it)
        self.servers = Servers(self.collector, host="127.0.0.1", udp=0, tcp=-1, http=0 if console else -1)
        self.udp = next(a for a in self.servers.addresses if a.startswith("udp://"))[len("udp://"):]
        self.plan = Plan(scn, self.udp)
        self.devices: list[DeviceRun] = []
        self.started = None
        self.t0_ms = None  # the fleet's start on the virtual clock (every device's clock starts there)

    def close(self):
        self.servers.close()
        for d in self.devices:
            d.board.close()
        self.collector.close()
        self.registry.close()

    def _count(self, datagram, source, reply):
        """Bytes and uplinks per device, as the wire carried them (refused ones too): the device id is bytes 1-4 of
        a report uplink and of a fetch request alike (proto/codec.py, proto/fetch.py)."""
        if len(datagram) >= 5:
            dev = int.from_bytes(datagram[1:5], "big")
            self.bytes_in[dev] = self.bytes_in.get(dev, 0) + len(datagram)
            self.uplinks[dev] = self.uplinks.get(dev, 0) + 1

    def _now(self) -> float:
        """The collector's "now" (receive times, and the ts of reports made before a device's clock was set):
        virtual time, so that it matches the devices' clocks, not the host's."""
        d = self._running or (self.devices[0] if self.devices else None)
        return d.board.clock.now_ms() / 1000 if d is not None else time.time()

    # -- set-up ---------------------------------------------------------------------------------------------------
    def modem_scenario(self, index: int = 0) -> dict:
        """Device ``index``'s modem scenario (``plan.py``)."""
        return self.plan.modem(index)

    def wifi_scenario(self, index: int = 0) -> dict:
        return self.plan.wifi(index)

    def indices(self) -> list[int]:
        """The fleet indices of the devices this run (this shard) runs."""
        i, n = self.shard
        return list(range(i, self.scn.devices, n))

    def setup(self, progress=None):
        from ..sim.board import VirtualBoard

        board = boards.load(self.scn.board)  # once: every device, the build and the summary share it
        # the shared, stamped build (build.build reuses it while sources and compiler are unchanged, and installs it
        # atomically): every shard of a run, and every run, compiles the firmware at most once, not once per workdir
        bundle = build.build(board, arch=_host_arch())
        files = {p: f.read_bytes() for p, f in bundle.files.items()}
        env = environment(self.scn)
        if self.scn.node is not None:  # every declared quantity comes from the scenario's physics
            from .. import node as nodefile

            nodefile.check_driven(self.scn.node, env, self.scn.name)
        for i in self.indices():
            dev_id = DEVICE_ID_BASE + i
            if self.registry.find(dev_id) is None:
                self.registry.add_device(dev_id, key=self.plan.key(i), who="fleet", board=board.name,
                                         scenario=self.scn.name)
            key = self.registry.key_for(dev_id)
            cfg = merge(DEFAULT_CONFIG, self.scn.config)
            cfg["device_id"] = dev_id
            if self.scn.node is not None:  # as provision --node writes it, and the collector decodes by it
                cfg["node"] = self.scn.node
                cfg["policy"] = merge(self.scn.node["policy"], self.scn.config.get("policy") or {})
                nodefile.register(self.registry, dev_id, self.scn.node, who="fleet")
            if not board["modem"]:
                cfg["link"] = merge({"kind": "wifi", "ssid": "fieldnode-lab", "key": "fieldnode",
                                     "endpoint": self.udp}, self.scn.config.get("link", {}))
            flash_dir = self.workdir / f"device-{dev_id}"
            if (flash_dir / "flash.bin").exists():
                (flash_dir / "flash.bin").unlink()
            sim = {"env": self.plan.environment(env, i), "modem": self.modem_scenario(i)}
            if not board["modem"]:
                sim["wifi"] = self.wifi_scenario(i)
            vb = VirtualBoard(board, flash_dir=flash_dir, scenario=sim, mac=Plan.mac(i))
            vb.put_files(dict(files, **{"/config.json": json.dumps(cfg), "/key.bin": key}))
            self.devices.append(self._device(dev_id, vb, i))
            if progress:
                progress(f"device {dev_id}: {board.name} provisioned")
        from ..sim.clock import EPOCH_2026

        # a shard may hold no device at all (more shards than devices): its start is every clock's start
        self.t0_ms = self.devices[0].board.clock.now_ms() if self.devices else EPOCH_2026
        self._plan_power_cuts()
        for d in self.devices:
            # its first boot later than the fleet's start: the device sits unpowered until then
            if (phase := self.plan.trait(d.index).start_phase_ms):
                d.board.advance(phase)

    def _device(self, dev_id: int, board, index: int) -> DeviceRun:
        t = self.plan.trait(index)
        return DeviceRun(dev_id, board, index=index, rng=self.plan.cut_rng(index), clock_ppm=t.clock_ppm)

    def adopt(self, device_id: int, board) -> None:
        """Run an already provisioned board (flashed, deployed and provisioned through the CLI, as ``make demo``
        does) as one of this fleet's devices; it must be stopped (headless)."""
        self.devices.append(self._device(device_id, board, len(self.devices)))
        if self.t0_ms is None:
            self.t0_ms = board.clock.now_ms()
        self._plan_power_cuts()

    def _plan_power_cuts(self):
        for d in self.devices:
            d.cuts = [self.t0_ms + ms for ms in self.plan.power_cuts(d.index)]

    # -- running ----------------------------------------------------------------------------------------------
    def _step(self, d: DeviceRun, until_ms: int):
        b = d.board
        self._running = d
        while b.clock.now_ms() < until_ms:
            if d.cuts and d.cuts[0] <= b.clock.now_ms() + 1:
                d.cuts.pop(0)
                # lands inside this wake cycle: during sampling, the queue append or an uplink
                b.cut_power_at(b.clock.now_ms() + b.boot_ms + d.rng.randrange(0, 600))
            c = b.run_cycle()
            d.cycles += 1
            d.ends[c.end] = d.ends.get(c.end, 0) + 1
            d.awake_ms += c.end_ms - c.start_ms
            found = list(_LOG.finditer(c.output))
            if found:
                m = found[-1]
                d.seq, d.queued = int(m.group(2)), int(m.group(3))
                d.last_output = m.group(0)
            if c.end == "deepsleep":
                if d.clock_ppm and c.sleep_ms:
                    # the RTC timer counts a slow or fast oscillator: the sleep asked for is not the sleep slept
                    c = dataclasses.replace(c, sleep_ms=max(1, round(c.sleep_ms * (1 + d.clock_ppm / 1e6))))
                b.sleep_until_wake(c)
            elif c.end in ("exit", "hang", "fs_corrupted", "bootloader"):
                return c.end  # the board stopped (safe mode, unprovisioned...): it stays as it is
        return None

    def run(self, progress=None, actions=()) -> dict:
        """Run the scenario to its end. ``actions``: [(seconds into the run, callable(run))], done between slices
        of virtual time (an operator offering an update on day 3, say)."""
        pending = sorted(actions, key=lambda a: a[0])
        if not self.devices:
            self.setup(progress)
        self.started = time.monotonic()
        t0 = self.t0_ms
        end = t0 + self.scn.duration_s * 1000
        stopped: dict[int, str] = {}
        t = t0
        try:
            while t < end:
                t = min(t + SLICE_MS, end)
                for d in self.devices:
                    if d.device_id not in stopped:
                        why = self._step(d, t)
                        if why:
                            stopped[d.device_id] = why
                while pending and pending[0][0] * 1000 <= t - t0:
                    pending.pop(0)[1](self)
                if progress:
                    st = self.collector.status()["totals"]
                    progress(_bar(t - t0, end - t0) + f" day {(t - t0) / 86_400_000:4.1f}: {st['stored']} reports "
                             f"stored, {sum(d.cycles for d in self.devices)} wake cycles")
        except KeyboardInterrupt:
            # Ctrl-C: what ran so far is a result too. The cycle under way is dropped (its process is killed when
            # the board closes); every device is summed up to where its own clock stands.
            return self.summary(end, stopped, interrupted=True)
        return self.summary(end, stopped)

    # -- results ----------------------------------------------------------------------------------------------
    def reports(self, device_id=None) -> list[dict]:
        return list(self.collector.store.reports(device_id))

    def summary(self, end_ms: int, stopped: dict, interrupted: bool = False) -> dict:
        """What happened, per device and in total, up to ``end_ms``; ``interrupted``: the run was stopped early, and
        each device is summed up to where its own clock stands (the summary says so, with the time simulated)."""
        devs = []
        faults_t = self.fault_times()
        reached_ms = end_ms
        if interrupted:
            reached_ms = max([d.board.clock.now_ms() for d in self.devices] or [end_ms])
        for d in self.devices:
            dev_end = min(end_ms, d.board.clock.now_ms()) if interrupted else end_ms
            rows = self.reports(d.device_id)
            delivered = len(rows)
            counters = sorted(r["counter"] for r in rows)
            info = next((x for x in self.collector.status()["devices"] if x["device_id"] == d.device_id), {})
            alarms = [r for r in rows if set(r.get("flags", [])) & {"anomaly", "high"}]
            first_alarm = min((r["ts"] for r in alarms), default=None)
            detection = self._detection(alarms)
            e = d.board.energy.report(dev_end)
            battery = d.board.board.get("battery") or {}
            cap = battery.get("capacity_mah")
            avg_ma = e["average_ma"]
            radio_ms = sum(s["ms"] for s in e["states"] if s["part"] in ("modem", "wifi")
                           and s["state"] not in ("off", "psm"))
            parts: dict[str, float] = {}
            for s in e["states"]:
                k = f"{s['part']} {s['state']}"
                parts[k] = parts.get(k, 0.0) + s["charge_mc"]
            dominant = max(parts, key=parts.get) if parts else None
            devs.append({
                "device": d.device_id,
                "cycles": d.cycles, "ends": d.ends, "stopped": stopped.get(d.device_id),
                "generated": d.seq, "delivered": delivered, "queued": d.queued,
                "duplicates": info.get("duplicates", 0),
                "lost": max(0, d.seq - delivered - d.queued),
                "missing_counters": _missing(counters, d.seq, d.queued),
                "alarms": len(alarms), "first_alarm_ts": first_alarm, **detection,
                "bytes_sent": self.bytes_in.get(d.device_id, 0), "uplinks": self.uplinks.get(d.device_id, 0),
                "radio_on_s": round(radio_ms / 1000, 1),
                "awake_s": round(d.awake_ms / 1000, 1),
                "charge_mc": round(e["charge_mc"], 1),
                "mah_per_day": round(avg_ma * 24, 3),
                "average_ua": round(avg_ma * 1000, 1),
                "battery_mah": cap,
                "battery_days": round(cap / (avg_ma * 24), 1) if cap and avg_ma > 0 else None,
                "dominant": dominant,
                "energy_parts_mc": {k: round(v, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])},
                **({"traits": tr} if (tr := self.plan.trait(d.index).public()) else {}),
            })
        tot = totals(devs)
        wall = time.monotonic() - self.started if self.started else 0.0
        alarm = merge(DEFAULT_CONFIG, self.scn.config).get("alarm") or {}
        t0 = self.t0_ms if self.t0_ms is not None else end_ms
        out = {"scenario": self.scn.name, "board": self.scn.board, "devices": devs, "totals": tot,
               "thresholds": {k: v for k, v in alarm.items() if v is not None},
               "start_ts": t0 // 1000,
               "duration_s": self.scn.duration_s, "faults": faults_t, "wall_s": round(wall, 1),
               "rejects": self.collector.status()["rejects"]}
        if interrupted:
            out["interrupted"] = True
            out["duration_s"] = max(0, reached_ms - t0) // 1000  # the virtual time that did run
        return out

    def _detection(self, alarms: list) -> dict:
        """Alarms against the fault the scenario injected (the failing bearing): how long after it began the
        first alarm came, and how many alarm reports came before it (false alarms)."""
        env = self.scn.environment
        if env.get("preset") != "core2_demo" or not getattr(self, "t0_ms", None):
            return {}
        fault_ts = self.t0_ms / 1000 + env.get("bearing_start", 5 * 86400)
        after = [r["ts"] for r in alarms if r["ts"] >= fault_ts]
        if fault_ts > self.t0_ms / 1000 + self.scn.duration_s:
            after = None  # the fault lies after the end of the run
        return {"false_alarms": sum(1 for r in alarms if r["ts"] < fault_ts),
                "detection_delay_s": (min(after) - fault_ts) if after else None}

    def fault_times(self) -> list:
        out = []
        env = self.scn.environment
        if env.get("preset") == "core2_demo":
            out.append({"kind": "bearing", "at_s": env.get("bearing_start", 5 * 86400)})
        for f in self.scn.faults:
            out.append({k: v for k, v in f.items()})
        return out


def totals(devs: list) -> dict:
    """The summary's fleet totals from its device rows (a merge of shards sums them again the same way)."""
    return {k: sum(x[k] for x in devs) for k in ("generated", "delivered", "queued", "duplicates", "lost", "alarms",
                                                  "bytes_sent", "uplinks", "cycles")}


def _missing(counters, seq, queued):
    have = set(counters)
    return [c for c in range(1, seq - queued + 1) if c not in have][:20]


def _host_arch() -> str:
    import sys

    return "x64" if sys.maxsize > 2**32 else "x86"


def _bar(done, total, width=24) -> str:
    n = int(width * done / total) if total else width
    return "[" + "#" * n + "." * (width - n) + "]"
