"""The collector's side of app updates: offer a release to a device, serve its manifest and files in chunks,
and record what each device says about it (proto/fetch.py; the device's side is firmware/update.py).

    c = Collector("reports.sqlite", registry)             # releases from $FIELDNODE_HOME/releases
    c.updates.offer(42, "1.2.0")                           # an OP_UPDATE command rides on the next reply
    c.updates.history(42)   # [{"version": "1.2.0", "status": "switched", ...}, {"status": "confirmed", ...}]

Fetch requests reach ``Collector.handle`` like uplinks (same UDP/TCP/HTTP endpoint; their first byte tells them
apart) and are checked in the same order: rate, structure, known device, tag. A release is served only when
release.load() accepts it (its tag under the release key, every file against its hash), and only to a device
whose registry facts name the release's board (or name none). The manifest is signed for each device with that
device's key as it is served (fetch.sign_manifest). Statuses go into the store's update log (db.py), at the
collector's clock, and out to the collector's listeners as {"event": "update", ...}.
"""

import logging
import threading
from pathlib import Path

from .fw import codec, fetch

log = logging.getLogger("fieldnode.collector")

class Updates:
    def __init__(self, collector, releases=None):
        self.c = collector
        self.dir = Path(releases) if releases is not None else None
        self._cache = {}  # path -> (mtime, Release or None)
        self._signed = {}  # (device, version) -> the manifest as served to it
        self._lock = threading.Lock()
        self.served = {}  # (device, version) -> {"chunks", "bytes"}: what each download cost on the wire

    # --- releases ---
    def _dir(self) -> Path:
        if self.dir is None:
            from ..release import releases_dir

            return releases_dir()
        return self.dir

    def releases(self) -> list:
        """Every release in the releases directory that verifies; one that does not is logged once and skipped."""
        from ..release import SUFFIX, ReleaseError, load

        out = []
        d = self._dir()
        paths = sorted(d.glob("*" + SUFFIX)) if d.is_dir() else []
        with self._lock:
            for p in paths:
                mtime = p.stat().st_mtime_ns
                hit = self._cache.get(p)
                if hit is None or hit[0] != mtime:
                    try:
                        rel = load(p)
                    except ReleaseError as e:
                        log.warning("not serving %s", e)
                        rel = None
                    hit = self._cache[p] = (mtime, rel)
                    self._signed.clear()
                if hit[1] is not None:
                    out.append(hit[1])
        return out

    def find(self, version: int, device_id: int | None = None):
        """The release of ``version`` for the device's board (from the registry facts), or None."""
        board = None
        if device_id is not None:
            dev = self.c.registry.find(device_id)
            board = dev.facts.get("board") if dev else None
        for rel in self.releases():
            if rel.version == version and (board is None or rel.board == board):
                return rel
        return None

    def offer(self, device_id: int, version) -> int:
        """Queue the OP_UPDATE command offering ``version`` ("1.2.0" or packed) to a device; its command id."""
        from ..errors import UsageError
        from ..release import parse_version

        v = parse_version(version)
        if self.find(v, device_id) is None:
            raise UsageError(f"no release {fetch.vstr(v)} to serve to device {device_id} in {self._dir()}",
                             "make it with: fieldnode release --board <the device's board> --version "
                             f"{fetch.vstr(v)}")
        cid = self.c.queue_command(device_id, (codec.OP_UPDATE, 0, v))
        self._record(device_id, v, "offered", f"command {cid}", "collector")
        return cid

    # --- the wire ---
    def handle(self, data: bytes, source: str):
        """Answer one fetch request; None when it is refused (counted by reason, like a refused uplink)."""
        c = self.c
        try:
            req = fetch.parse_request(data)
        except ValueError as e:
            return c._reject(e.args[0], source, e.args[1] if len(e.args) > 1 else "")
        dev, kind, version, index, offset, want = req
        key = c._key(dev)
        if key is None:
            return c._reject("unknown_device", source, f"device {dev} not in the registry", dev)
        if not fetch.verify_request(key, data):
            return c._reject(codec.REASON_TAG, source, f"device {dev} fetch request", dev)
        if kind == fetch.K_STATUS:
            name = fetch.STATUS_NAMES.get(index, f"status {index}")
            self._record(dev, version, name, fetch.WHY_NAMES.get((index, offset), str(offset) if offset else ""),
                         source)
            return fetch.encode_reply(key, dev, req, 0, fetch.R_OK)
        rel = self.find(version, dev)
        if rel is None:
            return fetch.encode_reply(key, dev, req, 0, fetch.R_NO_RELEASE)
        if kind == fetch.K_MANIFEST:
            obj = self._manifest(dev, key, rel)
        elif index < len(rel.files):
            obj = rel.files[index][1]
        else:
            return fetch.encode_reply(key, dev, req, 0, fetch.R_RANGE)
        if offset > len(obj):
            return fetch.encode_reply(key, dev, req, len(obj), fetch.R_RANGE)
        chunk = obj[offset:offset + min(want, fetch.CHUNK)]
        s = self.served.setdefault((dev, version), {"chunks": 0, "bytes": 0})
        s["chunks"] += 1
        reply = fetch.encode_reply(key, dev, req, len(obj), fetch.R_OK, chunk)
        s["bytes"] += len(data) + len(reply)
        return reply

    def _manifest(self, dev, key, rel) -> bytes:
        k = (dev, rel.version)
        m = self._signed.get(k)
        if m is None:
            m = self._signed[k] = fetch.sign_manifest(key, dev, rel.body)
        return m

    # --- what devices said ---
    def _record(self, dev, version, status, detail, source):
        self.c.store.log_update(dev, version, status, detail, self.c.clock(), source)
        level = logging.WARNING if status in ("rolled_back", "refused") else logging.INFO
        log.log(level, "device %d: update %s %s%s", dev, fetch.vstr(version), status, f" ({detail})" if detail else "")
        self.c._emit({"event": "update", "device": dev, "version": fetch.vstr(version), "status": status,
                      "detail": detail})

    def history(self, device_id: int | None = None) -> list:
        rows = self.c.store.update_log(device_id)
        return [{"device": r[0], "version": fetch.vstr(r[1]), "status": r[2], "detail": r[3], "at": r[4],
                 "source": r[5]} for r in rows]

    def status(self, device_id: int):
        """The last thing recorded for a device's updates, or None."""
        h = self.history(device_id)
        return h[-1] if h else None
