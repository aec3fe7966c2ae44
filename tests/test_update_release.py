"""App updates on the host: the fetch wire format (the device's own module, under CPython and MicroPython), the
release file and its tag, the collector answering fetch requests, and the ``fieldnode release`` command."""

import hashlib
import json
import zipfile

import pytest
from fieldnode import release
from fieldnode.cli import main as cli_main
from fieldnode.collector import Collector
from fieldnode.errors import UsageError
from fieldnode.registry import Registry
from proto import codec, commands, fetch

KEY = bytes(range(16))
OTHER = bytes(range(1, 17))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path))
    return tmp_path


def small_release(version="1.0.1", board="m5stack-core2"):
    files = {"/app.mpy": b"A" * 2500, "/proto/codec.mpy": b"C" * 700, "/main.py": b"import loader\n",
             "/board.json": b"{}", "/loader.mpy": b"L"}
    return release.make(files, board, "x64", version)


# -- the wire format ---------------------------------------------------------------------------------------------
def test_request_and_reply_round_trip():
    req = fetch.encode_request(KEY, 42, fetch.K_FILE, 0x10001, 3, 2048, 1024)
    assert len(req) == fetch.REQ_LEN == codec.FETCH_LEN and codec.uplink_length(req) == len(req)
    parsed = fetch.parse_request(req)
    assert parsed == (42, fetch.K_FILE, 0x10001, 3, 2048, 1024)
    assert fetch.verify_request(KEY, req) and not fetch.verify_request(OTHER, req)
    rep = fetch.encode_reply(KEY, 42, parsed, 5000, fetch.R_OK, b"x" * 1024)
    total, result, data = fetch.parse_reply(KEY, 42, rep, fetch.K_FILE, 0x10001, 3, 2048)
    assert (total, result, bytes(data)) == (5000, fetch.R_OK, b"x" * 1024)
    assert len(rep) <= 1460  # one AT+CARECV (SIM7080G)


@pytest.mark.parametrize("mutate, reason", [
    (lambda r: r[:20] + bytes([r[20] ^ 1]) + r[21:], codec.REASON_TAG),  # a byte of the data flipped
    (lambda r: r[:-1], codec.REASON_TAG),
    (lambda r: r[:10], codec.REASON_TRUNCATED),
    (lambda r: b"\x21" + r[1:], codec.REASON_VERSION),
])
def test_reply_tampered_or_garbled_is_refused(mutate, reason):
    req = fetch.parse_request(fetch.encode_request(KEY, 42, fetch.K_FILE, 1, 0, 0, 100))
    rep = fetch.encode_reply(KEY, 42, req, 100, fetch.R_OK, b"y" * 100)
    with pytest.raises(ValueError) as e:
        fetch.parse_reply(KEY, 42, mutate(rep), fetch.K_FILE, 1, 0, 0)
    assert e.value.args[0] == reason


def test_reply_to_another_request_or_key_is_refused():
    req = fetch.parse_request(fetch.encode_request(KEY, 42, fetch.K_FILE, 1, 0, 1024, 100))
    rep = fetch.encode_reply(KEY, 42, req, 4096, fetch.R_OK, b"y" * 100)
    with pytest.raises(ValueError, match="another request"):
        fetch.parse_reply(KEY, 42, rep, fetch.K_FILE, 1, 0, 0)  # a late reply for another offset
    with pytest.raises(ValueError, match="does not verify"):
        fetch.parse_reply(OTHER, 42, rep, fetch.K_FILE, 1, 0, 1024)
    with pytest.raises(ValueError):
        fetch.parse_reply(KEY, 43, rep, fetch.K_FILE, 1, 0, 1024)


def test_fetch_is_not_an_uplink_and_uplinks_still_parse():
    req = fetch.encode_request(KEY, 42, fetch.K_MANIFEST, 1, 0, 0)
    with pytest.raises(ValueError, match="fetch request"):
        codec.Uplink(req)
    with pytest.raises(ValueError, match="no report"):
        codec.uplink_length(b"\x30" + bytes(20))


def test_manifest_round_trip_and_tag_binds_key_and_device():
    files = [("app.mpy", 10, hashlib.sha256(b"a").digest()), ("proto/codec.mpy", 20, bytes(32))]
    body = fetch.manifest_body(0x10203, "m5stack-core2", "xtensawin", files)
    assert fetch.parse_manifest(body) == (0x10203, "m5stack-core2", "xtensawin", files)
    served = fetch.sign_manifest(KEY, 42, body)
    assert len(served) == len(body) + 32 and bytes(fetch.open_manifest(KEY, 42, served)) == body
    for key, dev in ((OTHER, 42), (KEY, 43)):
        with pytest.raises(ValueError, match="does not verify"):
            fetch.open_manifest(key, dev, served)
    bad = bytearray(served)
    bad[30] ^= 0x40
    with pytest.raises(ValueError, match="does not verify"):
        fetch.open_manifest(KEY, 42, bytes(bad))


@pytest.mark.parametrize("cut", [3, 9, 20, 59])
def test_truncated_manifest_is_a_clear_value_error(cut):
    body = fetch.manifest_body(1, "b", "x64", [("app.mpy", 1, bytes(32))])
    assert len(body) == 60
    with pytest.raises(ValueError) as e:
        fetch.parse_manifest(body[:cut])
    assert e.value.args[0] in (codec.REASON_TRUNCATED, codec.REASON_VERSION)
    with pytest.raises(ValueError, match="after the manifest"):
        fetch.parse_manifest(body + b"\0")


@pytest.mark.parametrize("path", ["/app.mpy", "../app.mpy", ""])
def test_manifest_refuses_paths_outside_the_app_directory(path):
    with pytest.raises(ValueError):
        fetch.manifest_body(1, "b", "x64", [(path, 1, bytes(32))])


def test_update_command_is_recorded_for_the_updater():
    st, reboot = commands.apply({}, [(1, codec.OP_UPDATE, 0, 0x10001)])
    assert st["upd"] == 0x10001 and st["refused"] == 0 and not reboot
    st, _ = commands.apply({}, [(1, codec.OP_UPDATE, 0, 0)])
    assert "upd" not in st and st["refused"] == 1


def test_loader_reasons_match_the_wire(mpy):
    out = mpy("import loader\nfrom proto import fetch\n"
              "print(loader.RB_IMPORT == fetch.RB_IMPORT, loader.RB_RESETS == fetch.RB_RESETS,"
              " loader.RB_NO_DELIVERY == fetch.RB_NO_DELIVERY, loader.vstr(0x10203))").check()
    assert out.split() == ["True", "True", "True", "1.2.3"]


def test_micropython_builds_the_same_bytes_as_cpython(mpy):
    body = fetch.manifest_body(0x10001, "m5stack-core2", "x64", [("app.mpy", 5, hashlib.sha256(b"hello").digest())])
    req = fetch.parse_request(fetch.encode_request(KEY, 7, fetch.K_FILE, 0x10001, 0, 0, 5))
    rep = fetch.encode_reply(KEY, 7, req, 5, fetch.R_OK, b"hello")
    code = f"""
from proto import fetch
k = bytes(range(16))
print(fetch.encode_request(k, 7, fetch.K_FILE, 0x10001, 0, 0, 5).hex())
t, r, d = fetch.parse_reply(k, 7, {rep!r}, fetch.K_FILE, 0x10001, 0, 0)
print(t, r, bytes(d))
b = fetch.open_manifest(k, 7, {fetch.sign_manifest(KEY, 7, body)!r})
print(fetch.parse_manifest(b)[3][0][0], bytes(b) == {body!r})
"""
    lines = mpy(code).check().splitlines()
    assert lines[0] == fetch.encode_request(KEY, 7, fetch.K_FILE, 0x10001, 0, 0, 5).hex()
    assert lines[1] == "5 0 b'hello'" and lines[2] == "app.mpy True"


def rezip(src, dst, name, change):
    with zipfile.ZipFile(src) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[name] = change(items[name])
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in items.items():
            z.writestr(n, b)
    return dst


# -- the release file ---------------------------------------------------------------------------------------------
def test_parse_version():
    assert release.parse_version("1.2.3") == 0x10203
    for bad in ("1.2", "v1.2.3", "1.256.0", "0.0.0", "32768.0.0"):
        with pytest.raises(UsageError):
            release.parse_version(bad)


def test_release_leaves_out_what_stays_with_the_device_and_round_trips(home):
    rel = small_release()
    assert [p for p, _ in rel.files] == ["app.mpy", "proto/codec.mpy"]
    path = release.write(rel, release.default_path(rel))
    assert path.name == "m5stack-core2-x64-1.0.1.fnu" and (home / "release.key").stat().st_mode & 0o777 == 0o600
    back = release.load(path)
    assert (back.version, back.board, back.arch, back.files, back.body) == (
        rel.version, rel.board, rel.arch, rel.files, rel.body)
    info = json.loads(zipfile.ZipFile(path).read("release.json"))
    assert info["version"] == "1.0.1" and info["list"][0]["sha256"] == hashlib.sha256(b"A" * 2500).hexdigest()
    assert release.next_version("m5stack-core2") == 0x10002


def test_release_changed_after_signing_is_refused(home, tmp_path):
    path = release.write(small_release(), tmp_path / "r.fnu")
    evil = rezip(path, tmp_path / "evil.fnu", "files/app.mpy", lambda b: b"B" + b[1:])
    with pytest.raises(release.ReleaseError, match="app.mpy does not match its hash"):
        release.load(evil)
    with pytest.raises(release.ReleaseError, match="tag does not verify"):
        release.load(path, key=b"k" * 32)
    (tmp_path / "junk.fnu").write_bytes(b"not a zip")
    with pytest.raises(release.ReleaseError, match="not a fieldnode release"):
        release.load(tmp_path / "junk.fnu")


# -- the collector ------------------------------------------------------------------------------------------------
@pytest.fixture
def col(home):
    reg = Registry(home / "registry.sqlite")
    reg.add_device(42, KEY, board="m5stack-core2")
    reg.add_device(43, OTHER, board="lowpower-ref")
    c = Collector(home / "collector.sqlite", reg)
    yield c
    c.close()


def ask(c, dev, key, kind, version, index=0, offset=0, want=fetch.CHUNK):
    rep = c.handle(fetch.encode_request(key, dev, kind, version, index, offset, want), "udp:test")
    return None if rep is None else fetch.parse_reply(key, dev, rep, kind, version, index, offset)


def test_collector_serves_a_release_in_chunks_signed_for_the_device(col):
    rel = small_release()
    release.write(rel, release.default_path(rel))
    total, result, data = ask(col, 42, KEY, fetch.K_MANIFEST, rel.version)
    assert result == fetch.R_OK and total == len(rel.body) + 32
    assert bytes(fetch.open_manifest(KEY, 42, bytes(data))) == rel.body
    got, off = b"", 0
    while True:
        total, result, data = ask(col, 42, KEY, fetch.K_FILE, rel.version, 0, off)
        got += bytes(data)
        off += len(data)
        if off >= total:
            break
    assert got == b"A" * 2500 and col.updates.served[(42, rel.version)]["chunks"] == 4
    assert ask(col, 42, KEY, fetch.K_FILE, rel.version, 9)[1] == fetch.R_RANGE
    assert ask(col, 42, KEY, fetch.K_FILE, rel.version, 0, 9999)[1] == fetch.R_RANGE
    assert ask(col, 42, KEY, fetch.K_FILE, 0x20000)[1] == fetch.R_NO_RELEASE
    assert ask(col, 43, OTHER, fetch.K_MANIFEST, rel.version)[1] == fetch.R_NO_RELEASE  # another board


def test_collector_refuses_bad_fetches_by_reason(col):
    rel = small_release()
    release.write(rel, release.default_path(rel))
    assert ask(col, 42, OTHER, fetch.K_MANIFEST, rel.version) is None
    assert ask(col, 99, KEY, fetch.K_MANIFEST, rel.version) is None
    assert col.handle(fetch.encode_request(KEY, 42, fetch.K_MANIFEST, 1)[:-2], "udp:test") is None
    rej = col.status()["rejects"]
    assert rej[codec.REASON_TAG] == 1 and rej["unknown_device"] == 1 and rej[codec.REASON_TRUNCATED] == 1


def test_collector_does_not_serve_a_release_changed_on_its_disk(col, caplog):
    rel = small_release()
    path = release.write(rel, release.default_path(rel))
    rezip(path, path, "manifest.tag", lambda b: bytes(32))
    assert ask(col, 42, KEY, fetch.K_MANIFEST, rel.version)[1] == fetch.R_NO_RELEASE
    assert "not serving" in caplog.text and "tag does not verify" in caplog.text


def test_offer_queues_the_command_and_status_is_recorded(col):
    with pytest.raises(UsageError, match="no release 1.0.1"):
        col.updates.offer(42, "1.0.1")
    rel = small_release()
    release.write(rel, release.default_path(rel))
    events = []
    col.listeners.append(events.append)
    cid = col.updates.offer(42, "1.0.1")
    assert col.store.pending_commands(42, 15)[0][:4] == (cid, codec.OP_UPDATE, 0, rel.version)
    assert ask(col, 42, KEY, fetch.K_STATUS, rel.version, fetch.S_ROLLED_BACK, fetch.RB_RESETS, 0)[1] == fetch.R_OK
    h = col.updates.history(42)
    assert [(x["status"], x["detail"]) for x in h] == [("offered", f"command {cid}"),
                                                       ("rolled_back", "reset too often")]
    assert events[-1]["event"] == "update" and events[-1]["status"] == "rolled_back"


# -- the command ----------------------------------------------------------------------------------------------
def test_cli_release_builds_signs_and_offers(home, capsys):
    reg = Registry(home / "registry.sqlite")
    reg.add_device(42, KEY, board="m5stack-core2")
    reg.close()
    rc = cli_main(["release", "--board", "m5stack-core2", "--version", "2.0.0", "--arch", "x64", "--offer", "42",
                   "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["version"] == "2.0.0" and out["arch"] == "x64" and out["offered"] == {"42": 1}
    rel = release.load(out["path"])
    names = [p for p, _ in rel.files]
    assert "app.mpy" in names and "update.mpy" in names and "main.py" not in names and "loader.mpy" not in names
    assert cli_main(["release", "--board", "m5stack-core2", "--version", "2.0.0", "--arch", "x64"]) == 2
    assert "exists: a version is never released twice" in capsys.readouterr().err


def test_cli_release_bad_input_is_one_line(home, capsys):
    assert cli_main(["release", "--board", "m5stack-core2", "--version", "1.0.0", "--offer", "7"]) == 2
    assert "device 7 is not in the registry" in capsys.readouterr().err
    assert cli_main(["release", "--board", "m5stack-core2", "--version", "1.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: version '1.2' is not major.minor.patch") and "\n" not in err
    assert cli_main(["release", "--board", "nope", "--version", "1.0.0"]) == 3
    assert not (home / "releases").exists()


def test_collect_prints_update_events(capsys):
    from fieldnode.cli.collect import _printer

    _printer(False)({"event": "update", "device": 42, "version": "1.0.2", "status": "rolled_back",
                     "detail": "reset too often"})
    assert capsys.readouterr().out == "update device=42 version=1.0.2 rolled_back (reset too often)\n"


# -- fieldnode collect --releases DIR -------------------------------------------------------------------------------
def test_cli_collect_serves_the_releases_in_a_directory_and_offers_one(home, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from conftest import ROOT

    reg = Registry(home / "registry.sqlite")
    reg.add_device(42, KEY, board="m5stack-core2")
    reg.close()
    site = tmp_path / "site-a"
    rel = small_release("1.0.1")
    release.write(rel, site / "core2-1.0.1.fnu")  # as fieldnode release -o site-a/core2-1.0.1.fnu writes it
    env = dict(os.environ, FIELDNODE_HOME=str(home), PYTHONPATH=str(ROOT / "host"))
    p = subprocess.Popen([sys.executable, "-m", "fieldnode", "collect", "--udp", "0", "--tcp", "-1", "--http", "-1",
                          "--releases", str(site), "--offer", "42=1.0.1", "--duration", "30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        udp = p.stdout.readline().strip()
        assert udp.startswith("udp://127.0.0.1:"), p.stderr.read() if p.poll() is not None else udp
        addr = ("127.0.0.1", int(udp.rsplit(":", 1)[1]))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(10)
        report = codec.encode_report((1_800_000_000, 0, 2000, 3700, 10, 20, 3, 4))
        u.sendto(codec.encode_uplink(KEY, 42, 1, [report]), addr)
        acked, cmds, _ = codec.parse_reply(KEY, 42, u.recvfrom(2048)[0])
        assert acked == 1 and [c[1:] for c in cmds] == [(codec.OP_UPDATE, 0, rel.version)]  # the offer rides on it
        state, _ = commands.apply({}, cmds)
        assert state["upd"] == rel.version  # what firmware/update.py fetches next
        u.sendto(fetch.encode_request(KEY, 42, fetch.K_MANIFEST, rel.version, 0, 0), addr)
        req = fetch.parse_request(fetch.encode_request(KEY, 42, fetch.K_MANIFEST, rel.version, 0, 0))
        total, result, data = fetch.parse_reply(KEY, 42, u.recvfrom(2048)[0], *req[1:5])
        assert result == fetch.R_OK and bytes(fetch.open_manifest(KEY, 42, bytes(data))) == rel.body
    finally:
        p.terminate()
        p.wait(10)
    err = p.stderr.read()
    assert f"serving release 1.0.1 for m5stack-core2 (x64): {site / 'core2-1.0.1.fnu'}" in err
    assert "offered 1.0.1 to device 42 (command 1)" in err


def _collect(*args):
    return cli_main(["collect", "--udp", "-1", "--tcp", "-1", "--http", "-1", "--duration", "0.1", *args])


def test_cli_collect_releases_bad_input_is_one_line(home, tmp_path, capsys):
    def err():
        e = capsys.readouterr().err.strip()
        assert e.startswith("error: ") and "\n" not in e, e
        return e

    Registry(home / "registry.sqlite").add_device(42, KEY, board="m5stack-core2")
    assert _collect("--releases", str(tmp_path / "nope")) == 2
    assert f"release directory {tmp_path / 'nope'} does not exist" in err()
    site = tmp_path / "site"
    path = release.write(small_release("1.0.1"), site / "a.fnu")
    assert _collect("--releases", str(path)) == 2 and "is a file" in err()
    (site / "junk.fnu").write_bytes(b"not a zip")
    assert _collect("--releases", str(site)) == 3 and "junk.fnu: not a fieldnode release" in err()
    (site / "junk.fnu").unlink()
    rezip(path, site / "b.fnu", "manifest.tag", lambda b: bytes(32))
    assert _collect("--releases", str(site)) == 3 and "b.fnu: the release tag does not verify" in err()
    release.write(small_release("1.0.1"), site / "b.fnu")
    assert _collect("--releases", str(site)) == 3 and "release 1.0.1 for m5stack-core2 is also in a.fnu" in err()
    (site / "b.fnu").unlink()
    assert _collect("--releases", str(site), "--offer", "42") == 2 and "is not DEVICE=VERSION" in err()
    assert _collect("--releases", str(site), "--offer", "42=1.0.2") == 2 and "no release 1.0.2 for device 42" in err()
    assert _collect("--releases", str(site), "--offer", "43=1.0.1") == 2 and "device 43 is not in the registry" in err()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _collect("--releases", str(empty)) == 0
    assert f"no releases in {empty} yet" in capsys.readouterr().err
