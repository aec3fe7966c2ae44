"""What each device of a fleet gets from the scenario, by its index: its traits (``variation.py``), the faults that
reach it, its modem or Wi-Fi scenario, its physics and its power cuts. A pure function of the scenario (and the
collector's address), so that a shard that runs devices 3 and 7 gives them what an unsharded run gives them.

    plan = Plan(scn, udp="127.0.0.1:40000")
    plan.modem(3)            # device 1004's modem scenario: its signal, the outages of its cell, ...
    plan.power_cuts(3)       # ms after the start, when its power is cut
"""

import hashlib
import random

from . import variation
from .variation import DEVICE_ID_BASE


class Plan:
    def __init__(self, scn, udp: str):
        self.scn = scn
        self.udp = udp
        n = scn.devices
        self.traits = [variation.traits(scn.variation, scn.seed, i) for i in range(n)]
        cells = [t.cell for t in self.traits]
        self.reach = [variation.chosen(f, k, scn.seed, n, cells) for k, f in enumerate(scn.faults)]
        self._cuts = self._plan_cuts()

    def trait(self, index: int):
        return self.traits[index] if 0 <= index < len(self.traits) else variation.Traits(index)

    def faults(self, kind: str, index: int) -> list:
        """The scenario's faults of ``kind`` that reach device ``index``."""
        return [f for k, f in enumerate(self.scn.faults) if f["kind"] == kind and index in self.reach[k]]

    def modem(self, index: int = 0) -> dict:
        """Device ``index``'s modem scenario (``sim/modems``): the fleet's, with its signal and its faults."""
        from .fleet import merge

        m = merge({"dns": {"uni.soracom.io": self.udp}}, self.scn.modem)
        net = dict(m.get("network") or {})
        rssi = self.trait(index).rssi_dbm
        if rssi is not None:
            net["rssi_dbm"] = rssi
        for f in self.faults("outage", index):
            net.setdefault("outages", []).append([f["from"] * 1000, f["to"] * 1000])
        if self.faults("denied", index):
            net["registration"] = "denied"
        m["network"] = net
        for f in self.faults("modem_error", index):
            m.setdefault("faults", []).append({"kind": "cme_error", "match": f.get("match", "AT+CASEND"),
                                               "code": f.get("code", 100), "times": f.get("times", 1)})
        if self.faults("no_sim", index):
            m["sim"] = dict(m.get("sim") or {}, present=False)
        return m

    def wifi(self, index: int = 0) -> dict:
        """The Wi-Fi model's scenario (``sim/wifi.py``) for boards without a modem: an outage fault is the access
        point out of range over the same window (ms after the board was created, as the modem's outages are); the
        device's signal, when the scenario varies it, is the access point's as this device hears it."""
        out = {"outages": [[f["from"] * 1000, f["to"] * 1000] for f in self.faults("outage", index)]}
        rssi = self.trait(index).rssi_dbm
        if rssi is not None:
            out["aps"] = [{"ssid": "fieldnode-lab", "key": "fieldnode", "rssi": rssi, "channel": 6, "security": 3}]
        return out

    def environment(self, env: dict, index: int) -> dict:
        """Device ``index``'s physics: the fleet's, its own noise seed, its offsets and noise."""
        env_i = dict(env, seed=env.get("seed", 1) * 1000 + index)
        return variation.apply_environment(env_i, self.trait(index))

    def _plan_cuts(self) -> dict:
        """{index: [ms after the start]}: a power_cut at its instant on every device it reaches; power_cuts' count
        spread over the devices they reach, drawn for the whole fleet at once (the same whichever shard asks)."""
        cuts: dict[int, list] = {}
        for k, f in enumerate(self.scn.faults):
            targets = sorted(self.reach[k])
            if f["kind"] == "power_cut":
                for i in targets:
                    cuts.setdefault(i, []).append(f["at"] * 1000)
            elif f["kind"] == "power_cuts" and targets:
                r = random.Random(f"fieldnode:{self.scn.seed}:power_cuts:{k}")
                for _ in range(f["count"]):
                    i = r.choice(targets)
                    cuts.setdefault(i, []).append(r.randrange(3600, self.scn.duration_s) * 1000)
        return {i: sorted(v) for i, v in cuts.items()}

    def power_cuts(self, index: int) -> list:
        return list(self._cuts.get(index, []))

    def cut_rng(self, index: int) -> random.Random:
        """Where in its wake cycle device ``index``'s power cuts land."""
        return variation.rng(self.scn.seed, "cut_offset", index)

    def key(self, index: int) -> bytes:
        """A simulated device's key: the same in every shard and on every machine, so that the stored reports
        (their tags included) are the same bytes whoever ran the device. Only for devices the fleet registers
        itself; a device already in the registry keeps its key."""
        return hashlib.sha256(f"fieldnode-sim-key:{self.scn.seed}:{DEVICE_ID_BASE + index}".encode()).digest()[:16]

    @staticmethod
    def mac(index: int) -> bytes:
        # Espressif's OUI 24:0A:C4 and three bytes of the device id: the same wherever its flash image lives
        return bytes([0x24, 0x0A, 0xC4]) + (DEVICE_ID_BASE + index).to_bytes(3, "big")
