"""The real collector (``fieldnode.collector``) on free 127.0.0.1 ports, for tests of device code: boards made by
``harness.Board`` send their uplinks to it on their virtual clock. The ``fieldnode.testing`` plugin makes one from
the ``fieldnode_collector`` fixture.

    with Board("m5stack-core2") as b, LocalCollector(tmp_path) as col:
        b.deploy_firmware()
        col.provision(b)                  # identity and key in its registry, config.json and key.bin on the board
        b.run_cycles(3)
        col.reports()                     # what it stored, decoded
"""

import time
from pathlib import Path

from ..errors import DeviceError
from .harness import Board


class LocalCollector:
    """The real collector (``fieldnode.collector``) on free 127.0.0.1 ports, its registry and SQLite database under
    ``home``. ``attach(board)`` routes a board's uplinks (uni.soracom.io, the default endpoint) to it;
    ``provision(board)`` gives a board with fieldnode's firmware an identity and key as ``fieldnode provision``
    does; ``reports()`` is what it stored, decoded."""

    def __init__(self, home):
        from ..collector import Collector, Servers
        from ..registry import Registry

        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.boards = []
        self.registry = Registry(self.home / "registry.sqlite")
        # no rate limit: virtual time sends a day of uplinks in seconds
        self.collector = Collector(self.home / "collector.sqlite", self.registry, rate=1e6, burst=1e6, clock=self._now)
        try:
            self.servers = Servers(self.collector, host="127.0.0.1", udp=0, tcp=-1, http=0)
        except OSError:
            self.collector.close()
            self.registry.close()
            raise
        self.udp = next(a for a in self.servers.addresses if a.startswith("udp://"))[len("udp://"):]
        self.http_url = next(a for a in self.servers.addresses if a.startswith("http://"))

    def _now(self) -> float:
        # receive times on the boards' virtual clock, as a fleet run does
        return self.boards[0].now_ms / 1000 if self.boards else time.time()

    def attach(self, board: Board) -> None:
        if board not in self.boards:
            self.boards.append(board)
        if board.modem is not None:
            board.route("uni.soracom.io", self.udp)

    def provision(self, board: Board, *, device_id: int | None = None, interval: int | None = None,
                  config: dict | None = None, node: dict | None = None):
        """Provision ``board`` (fieldnode's firmware deployed on it) against this collector, as ``fieldnode
        provision`` does: identity and key in the registry, key.bin and config.json on the board, a test report
        this collector acknowledges. Returns the ``ProvisionReport``; DeviceError naming the failed step."""
        from ..provision import ProvisionOptions, provision

        self.attach(board)
        wifi = board.modem is None
        opts = ProvisionOptions(device_id=device_id, interval=interval, extra=dict(config or {}),
                                collector=self.http_url, start=False, who="fieldnode.testing",
                                wifi_ssid="fieldnode-lab" if wifi else None, wifi_key="fieldnode" if wifi else None,
                                endpoint=self.udp if wifi else None, node=node)
        rep = provision(board.device, board.name, opts, self.registry)
        if not rep.passed:
            f = rep.failed_step
            raise DeviceError(f"provisioning the virtual {board.name} failed at {f.name}: {f.detail}", f.todo)
        return rep

    def reports(self, device_id: int | None = None) -> list[dict]:
        """What was stored, decoded, in order of device and counter."""
        return list(self.collector.store.reports(device_id))

    def status(self) -> dict:
        """Totals, devices and refusals by reason (what ``fieldnode collect`` shows)."""
        return self.collector.status()

    def close(self) -> None:
        self.servers.close()
        self.collector.close()
        self.registry.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
