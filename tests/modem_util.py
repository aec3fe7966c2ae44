"""One rig for the modem-model tests (test_modem_audit, test_modem_models, test_modem_variants): a model on a
virtual clock, driven as a host's UART drives it (write a command line, let virtual time pass, read what came)."""

from fieldnode.sim.clock import VirtualClock
from fieldnode.sim.modems import create


class Rig:
    def __init__(self, name, scenario=None, at_ms=300, clock=None, model=None):
        """The model create() builds for name, or ``model`` on its ``clock`` (a board's own). at_ms: how long
        at() waits for the answer by default."""
        self.clock = clock or VirtualClock()
        self.m = model if model is not None else create(name, self.clock, scenario)
        self.at_ms = at_ms
        self.boot = b""  # what the model sent while booted() waited
        self.power = []  # the power states the model reported, once watch_power() asked for them

    def watch_power(self):
        self.m.on_power = self.power.append
        return self

    def wait(self, ms):
        self.clock.advance(ms)
        self.m.poll(self.clock.now_ms())
        return self.m.read(65536)

    def at(self, line, ms=None):
        self.m.write(line.encode() + b"\r")
        return self.wait(self.at_ms if ms is None else ms)


def booted(rig, after_ms=0, echo_off=False):
    """rig after its model's boot time (and after_ms more), its boot output in rig.boot; echo_off: then ATE0."""
    rig.boot = rig.wait(rig.m.BOOT_MS + after_ms)
    if echo_off:
        rig.at("ATE0")
    return rig
