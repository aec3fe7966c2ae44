"""The collector as a function of datagrams: store, de-duplicate, refuse by reason, commands both ways."""

import pytest
from fieldnode.collector import REJECT_REASONS, Collector
from fieldnode.registry import Registry
from proto import codec, commands, fetch, schema

KEY = bytes(range(16))
DEV = 7


def rep(i, flags=0, health=None):
    return codec.encode_report((1_763_776_000 + 60 * i, flags, 2000 + i, 3700, 100 + i, 800, 12, 40), health)


@pytest.fixture
def col(tmp_path):
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY, board="m5stack-core2", who="test")
    c = Collector(tmp_path / "c.sqlite", reg, rate=1000, burst=1000)
    yield c
    c.close()


def stored(c, dev=DEV):
    return [(r["counter"], r["temp"]) for r in c.store.reports(dev)]


def test_stores_decodes_and_acks(col):
    reply = col.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1), rep(2, schema.FLAG_ANOMALY, (-80, 2, 1, 1, 0))]),
                       "udp:1.2.3.4:5")
    assert codec.parse_reply(KEY, DEV, reply)[:2] == (2, [])
    rows = list(col.store.reports(DEV))
    assert [r["counter"] for r in rows] == [1, 2]
    assert rows[0]["temp"] == 20.01 and rows[0]["batt"] == 3.7 and rows[0]["health"] is None
    assert rows[1]["flags"] == ["anomaly"] and rows[1]["health"]["rssi"] == -80
    st = col.status()
    assert st["devices"][0]["alarms"] == 1 and st["devices"][0]["last_report"]["counter"] == 2


def test_retransmission_after_a_lost_reply_is_acked_again_and_stored_once(col):
    up = codec.encode_uplink(KEY, DEV, 1, [rep(1), rep(2)])
    assert col.handle(up, "a") is not None
    # the reply was lost: the device sends 1..2 again, now with 3 appended
    again = codec.encode_uplink(KEY, DEV, 1, [rep(1), rep(2), rep(3)])
    acked, _, _ = codec.parse_reply(KEY, DEV, col.handle(again, "a"))
    assert acked == 3 and stored(col) == [(1, 20.01), (2, 20.02), (3, 20.03)]
    assert col.stats["duplicates"] == 2 and col.store.rejects() == {}


def test_replayed_and_old_counters_are_refused_and_nothing_changes(col):
    col.handle(codec.encode_uplink(KEY, DEV, 5, [rep(5), rep(6)]), "a")
    before = stored(col)
    assert col.handle(codec.encode_uplink(KEY, DEV, 6, [rep(60)]), "a") is None  # counter 6 with other content
    assert col.handle(codec.encode_uplink(KEY, DEV, 3, [rep(3)]), "a") is None  # below the last, never stored
    assert stored(col) == before
    assert col.store.rejects() == {"replay": 1, "too_old": 1}


def test_every_bad_input_is_refused_counted_and_harmless(col):
    good = codec.encode_uplink(KEY, DEV, 1, [rep(1)])
    col.handle(good, "a")
    before = stored(col)
    bad = {
        "truncated": good[:12],
        "oversized": good * 20,
        "bad_version": bytes([0xE1]) + good[1:],
        "malformed": good + b"\x00",
        "unknown_device": codec.encode_uplink(KEY, DEV + 1, 1, [rep(1)]),
        "bad_tag": good[:-1] + bytes([good[-1] ^ 1]),
    }
    for reason, data in bad.items():
        assert col.handle(data, "evil") is None, reason
    assert col.handle(b"", "evil") is None
    assert col.handle(bytes(range(256)), "evil") is None
    rejects = col.store.rejects()
    for reason in bad:
        assert rejects.get(reason, 0) >= 1, (reason, rejects)
    assert set(rejects) <= set(REJECT_REASONS)
    assert stored(col) == before


def test_a_wrong_key_never_stores_and_never_answers(col, tmp_path):
    forged = codec.encode_uplink(bytes(16), DEV, 100, [rep(100)])
    assert col.handle(forged, "x") is None
    assert stored(col) == [] and col.store.rejects() == {"bad_tag": 1}


def test_flood_from_one_address_is_throttled_others_still_served(tmp_path, caplog):
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY)
    c = Collector(tmp_path / "c.sqlite", reg, rate=5, burst=10)
    junk = b"\x21" + bytes(40)
    with caplog.at_level("WARNING", logger="fieldnode.collector"):
        for _ in range(200):
            c.handle(junk, "udp:6.6.6.6:1")
    rejects = c.store.rejects()
    assert rejects["flood"] >= 180 and rejects["flood"] + rejects.get("bad_tag", 0) + \
        rejects.get("unknown_device", 0) + rejects.get("malformed", 0) + rejects.get("truncated", 0) == 200
    lines = [r for r in caplog.records if "6.6.6.6" in r.getMessage()]
    assert len(lines) <= 4, [r.getMessage() for r in lines]  # one line per reason a second, not one per packet
    assert c.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), "udp:10.0.0.2:1") is not None
    c.close()


def test_downlink_commands_ride_on_replies_until_the_device_acks_them(col, tmp_path):
    cid1 = col.queue_command(DEV, ("set_interval", 300))
    cid2 = col.queue_command(DEV, "reboot")
    with pytest.raises(ValueError, match="unknown command 'explode'"):
        col.queue_command(DEV, "explode")
    acked, cmds, _ = codec.parse_reply(KEY, DEV, col.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), "a"))
    assert [c[0] for c in cmds] == [cid1, cid2]
    state, reboot = commands.apply({"interval": 600}, cmds)
    assert state["interval"] == 300 and reboot
    # the next uplink carries the ack; the reply after it has no commands, and the table says acked
    _, cmds2, _ = codec.parse_reply(KEY, DEV, col.handle(
        codec.encode_uplink(KEY, DEV, 2, [rep(2)], commands.cmd_ack(state)), "a"))
    assert cmds2 == []
    assert all(c["acked"] for c in col.store.commands(DEV))


def test_the_reply_carries_the_collectors_time_and_answers_an_old_device_the_old_way(tmp_path):
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY)
    c = Collector(tmp_path / "c.sqlite", reg, clock=lambda: 1_800_000_123.9)
    try:
        new = c.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), "a")
        assert len(new) == 19 and new[0] >> 5 == 2
        assert codec.parse_reply(KEY, DEV, new) == (1, [], 1_800_000_123)  # whole seconds, never rounded up
        old = c.handle(codec.encode_uplink(KEY, DEV, 2, [rep(2)], version=1), "a")  # an app from before v2
        assert len(old) == 15 and old[0] >> 5 == 1 and codec.parse_reply(KEY, DEV, old) == (2, [], None)
        assert [r["counter"] for r in c.store.reports(DEV)] == [1, 2]
    finally:
        c.close()


def test_a_reply_for_one_device_does_not_verify_for_another(col):
    col.registry.add_device(8, bytes(range(100, 116)))
    r = col.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), "a")
    with pytest.raises(ValueError):
        codec.parse_reply(bytes(range(100, 116)), 8, r)


def test_restart_keeps_counters(tmp_path):
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY)
    c = Collector(tmp_path / "c.sqlite", reg)
    c.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1), rep(2)]), "a")
    c.close()
    c2 = Collector(tmp_path / "c.sqlite", reg)
    assert c2.handle(codec.encode_uplink(KEY, DEV, 1, [rep(9)]), "a") is None  # counter 1 again, other content
    assert c2.store.rejects() == {"replay": 1}
    c2.close()


def test_every_time_it_stores_comes_from_its_clock(tmp_path):
    """A fleet on virtual time gives the collector the devices' clock: receive, command, ack, refusal and update
    times are then all virtual, never the host's (which would be today, not the simulated week)."""
    reg = Registry(tmp_path / "reg.sqlite")
    reg.add_device(DEV, KEY)
    now = {"t": 1_000.0}
    c = Collector(tmp_path / "c.sqlite", reg, clock=lambda: now["t"])
    try:
        c.handle(codec.encode_uplink(KEY, DEV, 1, [rep(1)]), "a")
        now["t"] = 2_000.5
        c.queue_command(DEV, "reboot")
        now["t"] = 3_000.0
        c.handle(codec.encode_uplink(KEY, DEV, 2, [rep(2)], (1, 0)), "b")  # acknowledges command 1
        now["t"] = 4_000.0
        c.handle(codec.encode_uplink(KEY, DEV, 9, [rep(9)])[:-1] + b"\x00", "evil")  # a bad tag
        now["t"] = 5_000.0
        c.handle(fetch.encode_request(KEY, DEV, fetch.K_STATUS, 0x010001, fetch.S_CONFIRMED), "b")
        assert [r["received"] for r in c.store.reports(DEV)] == [1_000.0, 3_000.0]
        (d,) = c.store.devices()
        assert d["last_seen"] == 3_000.0 and d["last_source"] == "b"
        (cmd,) = c.store.commands(DEV)
        assert (cmd["queued"], cmd["acked"]) == (2_000.5, 3_000.0)
        assert [(r["at"], r["reason"]) for r in c.store.reject_log()] == [(4_000.0, "bad_tag")]
        assert [(h["status"], h["at"]) for h in c.updates.history(DEV)] == [("confirmed", 5_000.0)]
    finally:
        c.close()


def test_on_uplink_sees_every_datagram_with_its_reply_and_a_failing_hook_loses_nothing(col, caplog):
    seen = []
    col.on_uplink(lambda datagram, source, reply: seen.append((datagram, source, reply)))
    col.on_uplink(lambda *a: 1 / 0)  # a broken observer: logged, the uplink is still stored and answered
    good = codec.encode_uplink(KEY, DEV, 1, [rep(1)])
    forged = good[:-1] + bytes([good[-1] ^ 1])
    status = fetch.encode_request(KEY, DEV, fetch.K_STATUS, 0x010001, fetch.S_CONFIRMED)
    replies = [col.handle(d, s) for d, s in ((good, "udp:a"), (good, "udp:a"), (forged, "udp:b"), (status, "udp:a"))]
    assert replies[0] is not None and replies[1] is not None and replies[2] is None and replies[3] is not None
    assert seen == [(good, "udp:a", replies[0]), (good, "udp:a", replies[1]), (forged, "udp:b", None),
                    (status, "udp:a", replies[3])]
    assert stored(col) == [(1, 20.01)] and col.stats["duplicates"] == 1
    assert any("ZeroDivisionError" in r.getMessage() or "division" in r.getMessage() for r in caplog.records)

