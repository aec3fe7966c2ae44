"""App updates end to end: the real firmware on a virtual Core2 (headless cycles), its SIM7080G model sending real
UDP to a collector that serves releases made by fieldnode.release. The deployed app is version 0.0.0 in /; each
release is the same bundle with some modules compiled from changed sources.

With -s the good and the resumed download print what they cost (requests, bytes on the wire, virtual time);
tools/bench_update.py measures the same for ``make bench``.
"""

import json
import math
import threading

import pytest
from fieldnode import build, release
from fieldnode.collector import Collector, Servers
from fieldnode.paths import FIRMWARE
from fieldnode.registry import Registry
from fieldnode.sim.board import VirtualBoard
from fieldnode.sim.physics import core2_demo
from proto import fetch

BOARD = "m5stack-core2"
DEV = 42
CONFIG = {"device_id": DEV, "link": {"apn": "soracom.io"}, "policy": {"uplink_s": 600, "summary_s": 600}}

# Variants: {module source path: (text to find, replacement)}; "*" appends a line to every module.
VARIANTS = {
    "good": {"app.py": ('log("cycle %d:', 'log("v2 cycle %d:')},
    "all": {"*": ("", "\n_RELEASE = 2\n"), "app.py": ('log("cycle %d:', 'log("v2 cycle %d:')},
    "import": {"app.py": ("import rtcstate\n", "import rtcstate\nimport a_module_this_build_forgot\n")},
    "crash": {"app.py": ("        st.attempts += 1\n", "        raise RuntimeError('v2 bug')\n")},
    "silent": {"proto/codec.py": ('_DIR_UP = b"U"', '_DIR_UP = b"X"')},  # its tags never verify: no delivery
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    b = build.build(BOARD, out, arch="x64")
    return {p: f.read_bytes() for p, f in b.files.items()}


@pytest.fixture(scope="module")
def variants(bundle, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    cache = {}

    def get(name):
        if name not in cache:
            files = dict(bundle)
            spec = VARIANTS[name]
            srcs = [p.relative_to(FIRMWARE).as_posix() for p in build.firmware_sources()] if "*" in spec else spec
            for rel in srcs:
                if rel == "*" or rel in ("main.py", "boot.py", "loader.py"):
                    continue
                text = (FIRMWARE / rel).read_text()
                old, new = spec.get(rel, spec.get("*"))
                if old:
                    if old not in text:
                        raise AssertionError(f"variant {name}: {old!r} not in {rel}")
                    text = text.replace(old, new, 1)
                else:
                    text += new
                src = tmp / name / rel
                src.parent.mkdir(parents=True, exist_ok=True)
                src.write_text(text)
                dst = src.with_suffix(".mpy")
                build.compile_module(src, dst, "x64")
                files["/" + rel[:-3] + ".mpy"] = dst.read_bytes()
            cache[name] = files
        return cache[name]

    return get


class Rig:
    def __init__(self, home, bundle, variants):
        self.variants = variants
        self.reg = Registry(home / "registry.sqlite")
        self.key = self.reg.add_device(DEV, board=BOARD).key
        self.col = Collector(home / "collector.sqlite", self.reg, rate=5000, burst=5000)
        self.srv = Servers(self.col, udp=0, tcp=-1, http=-1)
        udp = self.srv.addresses[0].split("//")[1]
        self.board = VirtualBoard(BOARD, flash_dir=home / "board",
                                  scenario={"env": core2_demo(), "modem": {"dns": {"uni.soracom.io": udp}}})
        files = dict(bundle)
        files["/config.json"] = json.dumps(CONFIG)
        files["/key.bin"] = self.key
        self.board.put_files(files)
        self.cycles = []
        self.served = []  # (kind, index, offset) of every chunk the collector served
        self.on_chunk = None
        handle = self.col.updates.handle

        def spy(data, source):
            reply = handle(data, source)
            if reply is not None and data[5] != fetch.K_STATUS:
                req = fetch.parse_request(data)
                self.served.append((req[1], req[3], req[4]))
                if self.on_chunk:
                    reply = self.on_chunk(req, reply) or reply
            return reply

        self.col.updates.handle = spy

    def release(self, variant, version):
        rel = release.make(self.variants(variant), BOARD, "x64", version)
        release.write(rel, release.default_path(rel))
        return rel

    def statuses(self):
        return [h["status"] for h in self.col.updates.history(DEV)]

    def run(self, n):
        out = []
        for _ in range(n):
            c = self.board.run_cycle()
            out.append(c)
            if c.end == "powercut" and self.board.modem is not None:
                # The supply that was cut feeds the modem too (the virtual board cuts only the MCU's, so far):
                # its sockets are gone, and it boots again when the power returns, as the Unit CatM does.
                now = self.board.clock.now_ms()
                self.board.modem.power_off(now, urc=False)
                self.board.modem.reset(now)
        self.cycles += out
        return out

    def run_until(self, status, most):
        for _ in range(most):
            self.run(1)
            if status in self.statuses():
                return
        log = "\n".join(f"{c.index} {c.end} {c.end_ms - c.start_ms} ms {c.output[-1500:]}" for c in self.cycles)
        pytest.fail(f"no {status!r} after {most} cycles: {self.statuses()}\n{log}")

    def pointer(self):
        return json.loads(self.board.read_file("/app.ptr")[4:])

    def output(self, since=0):
        return "".join(c.output for c in self.cycles[since:])

    def reports_whole(self):
        """Every report the device made is stored once: counters 1..last without a gap."""
        d = self.col.store.devices()[0]
        n = self.col.store.db.execute("SELECT COUNT(*) FROM reports WHERE device_id=?", (DEV,)).fetchone()[0]
        return d["gaps"] == 0 and n == d["last_counter"]

    def close(self):
        self.srv.close()
        self.board.close()
        self.col.close()
        self.reg.close()


@pytest.fixture
def rig(tmp_path, monkeypatch, bundle, variants):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path))
    r = Rig(tmp_path, bundle, variants)
    yield r
    r.close()


def file_chunks(rel, names=None):
    return sum(math.ceil(len(b) / fetch.CHUNK) for p, b in rel.files if names is None or p in names)


def test_good_update_is_fetched_switched_and_confirmed(rig):
    rig.run(2)
    rel = rig.release("good", "1.0.1")
    rig.col.updates.offer(DEV, "1.0.1")
    t0, n0 = rig.board.clock.now_ms(), len(rig.cycles)
    rig.run_until("confirmed", 6)
    took_ms = rig.cycles[-1].end_ms - t0
    assert rig.statuses() == ["offered", "switched", "confirmed"]
    p = rig.pointer()
    assert p["active"] == "app_a" and p["ver"] == rel.version and p["prev"] == "" and "trial" not in p
    rig.run(2)
    out = rig.output(n0)
    assert "v2 cycle" in rig.cycles[-1].output and "confirmed: it delivered" in out
    # Only what changed came over the link: the manifest and app.mpy; the other files were copied on the flash.
    manifest = math.ceil((len(rel.body) + fetch.MAC_LEN) / fetch.CHUNK)
    assert len(rig.served) == manifest + file_chunks(rel, {"app.mpy"})
    assert rig.reports_whole()
    print(f"\ngood update: {len(rig.served)} chunk requests, {rig.col.updates.served[(DEV, rel.version)]['bytes']} "
          f"bytes on the wire, offer to confirmed {took_ms / 1000:.0f} s virtual")


def test_download_resumes_after_an_outage_and_a_power_cut(rig):
    rig.run(2)
    rel = rig.release("all", "1.1.0")  # every module changed: a full download
    full = math.ceil((len(rel.body) + fetch.MAC_LEN) / fetch.CHUNK) + file_chunks(rel)
    modem = rig.board.modem
    lock = threading.Lock()
    events = []

    def fault(req, reply):
        with lock:
            n = sum(1 for k, _, _ in rig.served if k == fetch.K_FILE)
            if n == 15 and "outage" not in events:
                events.append("outage")
                now = modem.rel(rig.board.clock.now_ms())
                modem.sc.outages = [(now, now + 40 * 60_000)]  # 40 minutes without coverage
            elif n == 45 and "cut" not in events:
                events.append("cut")
                rig.board.cut_power_after_writes(2)  # inside the append of this very chunk

    rig.on_chunk = fault
    rig.col.updates.offer(DEV, "1.1.0")
    t0 = rig.board.clock.now_ms()
    rig.run_until("confirmed", 16)
    ends = [c.end for c in rig.cycles]
    assert events == ["outage", "cut"] and "powercut" in ends
    assert "the rest next time" in rig.output()
    # Not restarted from zero: every chunk came once, but for the one or two in flight at each interruption.
    assert full <= len(rig.served) <= full + 3, (full, len(rig.served))
    assert len(set(rig.served)) == full
    assert "v2 cycle" in rig.run(1)[0].output and rig.reports_whole()
    wire = rig.col.updates.served[(DEV, rel.version)]["bytes"]
    print(f"\nfull download of {rel.size} bytes ({len(rel.files)} files): {full} chunk requests, {wire} bytes on "
          f"the wire; with an outage and a power cut {len(rig.served)} requests, offer to confirmed "
          f"{(rig.cycles[-2].end_ms - t0) / 1000:.0f} s virtual")


@pytest.mark.parametrize("variant, why, most", [
    ("import", "import failed", 4),
    ("crash", "reset too often", 8),
    ("silent", "no report delivered", 10),
])
def test_bad_update_rolls_back_and_the_device_keeps_reporting(rig, variant, why, most):
    rig.run(2)
    rel = rig.release(variant, "1.0.2")
    rig.col.updates.offer(DEV, "1.0.2")
    rig.run_until("switched", 3)
    n0 = len(rig.cycles)
    rig.run_until("rolled_back", most)
    h = rig.col.updates.history(DEV)
    assert [x["status"] for x in h] == ["offered", "switched", "rolled_back"] and h[-1]["detail"] == why
    p = rig.pointer()
    assert p["active"] == "" and p["ver"] == 0 and p["bad"] == [rel.version] and "rb" not in p
    assert "rolled back (%s)" % why in rig.output(n0)
    before = rig.col.store.devices()[0]["last_counter"]
    rig.run(2)
    assert rig.col.store.devices()[0]["last_counter"] > before and rig.reports_whole()  # nothing lost
    assert "v2" not in rig.cycles[-1].output
    if variant == "silent":
        assert rig.col.status()["rejects"].get("bad_tag", 0) > 0  # its uplinks never verified
    # Offered again, the device refuses the version it rolled back.
    rig.col.updates.offer(DEV, "1.0.2")
    rig.run_until("refused", 3)
    assert rig.col.updates.history(DEV)[-1]["detail"] == "rolled back before"


def test_tampered_chunks_are_never_written(rig):
    rig.run(2)
    rel = rig.release("good", "1.0.3")
    flipped = []

    def mitm(req, reply):
        if req[1] == fetch.K_FILE and len(flipped) < 3:
            flipped.append(req)
            b = bytearray(reply)
            b[fetch.REPLY_HEAD + 10] ^= 0x01  # one bit of the data, on the way
            return bytes(b)

    rig.on_chunk = mitm
    rig.col.updates.offer(DEV, "1.0.3")
    rig.run_until("confirmed", 6)
    out = rig.output()
    assert out.count("reply refused: fetch reply tag does not verify") == 3 and len(flipped) == 3
    assert "failed verification" not in out  # refused at the chunk: nothing bad ever reached the flash
    assert rig.board.read_file("/app_a/app.mpy") == dict(rel.files)["app.mpy"]


@pytest.mark.parametrize("what, why", [("file", "file hash mismatch"), ("manifest", "bad manifest")])
def test_tampered_release_is_refused_and_the_old_app_runs_on(rig, what, why):
    rig.run(2)
    rel = rig.release("good", "1.0.4")
    releases = rig.col.updates.releases

    if what == "file":  # the serving host's copy changed under the collector, bytes and length intact
        def forged():
            out = []
            for r in releases():
                files = [(p, (b[:-1] + bytes([b[-1] ^ 0xFF])) if p == "app.mpy" else b) for p, b in r.files]
                out.append(release.Release(r.version, r.board, r.arch, files, r.body))
            return out

        rig.col.updates.releases = forged
    else:  # signed with a key that is not the device's
        rig.col.updates._manifest = lambda dev, key, r: fetch.sign_manifest(bytes(16), dev, r.body)
    rig.col.updates.offer(DEV, "1.0.4")
    rig.run_until("refused", 6)
    assert rig.col.updates.history(DEV)[-1]["detail"] == why
    assert rig.output().count("failed verification") == 3
    files = rig.board.list_files("/")
    assert "/app.ptr" not in files and not any(f.startswith("/app_a/") for f in files)  # stage wiped
    assert rig.col.updates.served[(DEV, rel.version)]["chunks"] > 0
    rig.run(1)
    assert rig.cycles[-1].end == "deepsleep" and rig.reports_whole()
