"""The collector over real sockets (UDP, TCP, HTTP on 127.0.0.1), the CLI verbs collect/export/schema, the
registry's history, and the SORACOM format string read back by an interpreter of its grammar."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT
from fieldnode.collector import Collector, Servers, views
from fieldnode.registry import Registry, parse_device_id
from proto import codec, schema

KEY = bytes(range(16))
DEV = 42


def rep(i, flags=0):
    return codec.encode_report((1_763_776_000 + i, flags, -512 + i, 3650, 250, 900, 31, 77))


@pytest.fixture
def running(tmp_path):
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY)
    c = Collector(tmp_path / "c.sqlite", reg, rate=1000, burst=1000)
    s = Servers(c, udp=0, tcp=0, http=0)
    yield c, {a.split("://")[0]: (a.split("://")[1].split(":")[0], int(a.rsplit(":", 1)[1])) for a in s.addresses}
    s.close()
    c.close()


def test_udp_tcp_and_http_carry_the_same_bytes(running):
    c, addr = running
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.sendto(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), addr["udp"])
    assert codec.parse_reply(KEY, DEV, u.recvfrom(1024)[0])[0] == 1
    u.sendto(b"garbage", addr["udp"])  # refused silently, counted
    u.close()

    t = socket.create_connection(addr["tcp"], timeout=5)
    two = codec.encode_uplink(KEY, DEV, 2, [rep(2)]) + codec.encode_uplink(KEY, DEV, 3, [rep(3), rep(4)])
    for i in range(0, len(two), 7):  # a stream cut anywhere: uplinks are found by their own length
        t.sendall(two[i:i + 7])
        time.sleep(0.001)
    f = t.makefile("rb")
    r1 = f.read(codec.HEADER + codec.TIME_LEN + codec.TAG_LEN)  # a version 2 reply: acked, time, tag
    r2 = f.read(codec.HEADER + codec.TIME_LEN + codec.TAG_LEN)
    assert codec.parse_reply(KEY, DEV, r1)[0] == 2 and codec.parse_reply(KEY, DEV, r2)[0] == 4
    t.close()

    host, port = addr["http"]
    req = urllib.request.Request(f"http://{host}:{port}/", data=codec.encode_uplink(KEY, DEV, 5, [rep(5)]),
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert codec.parse_reply(KEY, DEV, resp.read())[0] == 5
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/", data=b"\x21junk"), timeout=5)
    assert e.value.code == 400
    with urllib.request.urlopen(f"http://{host}:{port}/status", timeout=5) as resp:
        st = json.loads(resp.read())
    assert st["devices"][0]["last_counter"] == 5 and st["devices"][0]["reports"] == 5
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as resp:
        assert b'"id":42,' in resp.read()  # the console page carries the fleet JSON it draws
    time.sleep(0.3)  # let the UDP thread count the garbage datagram
    assert [r["counter"] for r in c.store.reports(DEV)] == [1, 2, 3, 4, 5]
    assert sum(c.store.rejects().values()) >= 2


def test_tcp_garbage_closes_the_connection_and_counts(running):
    c, addr = running
    t = socket.create_connection(addr["tcp"], timeout=5)
    t.sendall(b"\xff" * 50)
    assert t.recv(10) == b""  # closed by the collector
    t.close()
    assert c.store.rejects().get("bad_version") == 1


def test_http_oversized_body_is_refused_without_reading_it(running):
    c, addr = running
    host, port = addr["http"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/", data=bytes(5000)), timeout=5)
    assert e.value.code == 413 and c.store.rejects() == {"oversized": 1}


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "fieldnode", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)


def test_cli_collect_prints_its_addresses_and_export_writes_what_it_stored(tmp_path):
    env = dict(os.environ, FIELDNODE_HOME=str(tmp_path), PYTHONPATH=str(ROOT / "host"))
    Registry(tmp_path / "registry.sqlite").add_device(DEV, KEY)
    p = subprocess.Popen([sys.executable, "-m", "fieldnode", "collect", "--udp", "0", "--tcp", "-1", "--http", "0",
                          "--duration", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         env=env)
    try:
        udp = p.stdout.readline().strip()
        http = p.stdout.readline().strip()
        assert udp.startswith("udp://127.0.0.1:") and http.startswith("http://127.0.0.1:")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(10)
        port = int(udp.rsplit(":", 1)[1])
        u.sendto(codec.encode_uplink(KEY, DEV, 1, [rep(1, schema.FLAG_ANOMALY), rep(2)]), ("127.0.0.1", port))
        assert codec.parse_reply(KEY, DEV, u.recvfrom(1024)[0])[0] == 2
        line = p.stdout.readline()
        assert line.startswith("report device=42 counter=1 flags=anomaly") and "temp=-5.11" in line
    finally:
        p.terminate()
        p.wait(10)
    out = _cli("export", "--format", "csv", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("device,counter,received,source,ts,flags,temp") and len(lines) == 3
    assert lines[1].split(",")[:2] == ["42", "1"] and ",anomaly," in lines[1]
    js = json.loads(_cli("export", "--format", "json", "--device", "0x2a", "--since", "1", env=env).stdout)
    assert [r["counter"] for r in js] == [2] and js[0]["batt"] == 3.65
    bad = _cli("export", "--db", str(tmp_path / "nope.sqlite"), env=env)
    assert bad.returncode != 0 and bad.stderr.startswith("error: no collector database") and \
        len(bad.stderr.strip().splitlines()) == 1


def test_cli_collect_refuses_a_bad_mqtt_url_in_one_line(tmp_path):
    env = dict(os.environ, FIELDNODE_HOME=str(tmp_path), PYTHONPATH=str(ROOT / "host"))
    r = _cli("collect", "--udp", "0", "--tcp", "-1", "--http", "-1", "--mqtt", "http://x", env=env)
    assert r.returncode == 2 and "MQTT URL 'http://x' not understood" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _soracom_decode(fmt: str, data: bytes) -> dict:
    """An interpreter of the Binary Parser grammar (users.soracom.io "Custom Format"): big-endian, bits from the
    most significant, bool bit positions counted from the least significant."""
    out = {}
    for field in fmt.split():
        parts = field.split(":")
        name, idx, typ = parts[0], int(parts[1]), parts[2]
        if typ == "bool":
            out[name] = bool(data[idx] >> int(parts[3]) & 1)
            continue
        bits = int(parts[3])
        nbytes = -(-bits // 8)
        v = int.from_bytes(data[idx:idx + nbytes], "big") >> (8 * nbytes - bits)
        if typ == "int" and v >> (bits - 1):
            v -= 1 << bits
        for op in parts[4:]:
            v = v / int(op[1:])
        out[name] = v
    return out


def test_soracom_format_reads_a_real_uplink():
    raw = codec.encode_report((1_763_776_123, schema.FLAG_ANOMALY | schema.FLAG_LOWBAT, -1234, 3301, 5, 65535, 9,
                               1000))
    up = codec.encode_uplink(KEY, 0xDEADBEEF, 77, [raw])
    got = _soracom_decode(views.soracom_format(), up)
    want = views.report_to_dict(0xDEADBEEF, 77, raw)
    assert got["version"] == codec.VERSION and got["deviceId"] == 0xDEADBEEF and got["counter"] == 77
    assert got["anomaly"] and got["lowbat"] and not got["high"]
    for f in schema.MAIN:
        if f[0] != "flags":
            assert got[f[0]] == pytest.approx(want[f[0]]), f[0]


def test_registry_history_says_who_changed_what(tmp_path):
    reg = Registry(tmp_path / "r.sqlite")
    reg.add_device("0x10", who="tech-1", board="m5stack-core2")
    reg.set_facts(16, who="tech-2", iccid="8981100000000000001", board="lowpower-ref")
    old = reg.get(16).key
    reg.set_key(16, who="tech-3")
    assert reg.get(16).key != old and len(reg.get(16).key) == 16
    h = reg.history(16)
    assert [(e["who"], e["action"]) for e in h] == [("tech-1", "add"), ("tech-2", "set_facts"), ("tech-3", "set_key")]
    assert h[1]["change"]["board"] == ["m5stack-core2", "lowpower-ref"]
    assert old.hex() not in json.dumps(h)
    with pytest.raises(Exception, match="already registered"):
        reg.add_device(16)
    with pytest.raises(Exception, match="out of range"):
        parse_device_id(1 << 32)
    with pytest.raises(Exception, match="not in the registry"):
        reg.get(17)
