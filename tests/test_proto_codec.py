"""The codec: reports, uplinks and replies; sizes; every kind of bad input; one module under two runtimes."""

import json
import struct

import pytest
from conftest import run_mpy
from hypothesis import given, settings
from hypothesis import strategies as st
from proto import codec, commands, schema

KEY = bytes(range(16))
OTHER = bytes(range(1, 17))
TYPICAL = (1_763_776_000, schema.FLAG_ANOMALY, 2150, 3712, 120, 803, 14, 55)


def _vals(fields):
    return st.tuples(*[st.integers(*schema.LIMITS[f[1]]) for f in fields])


@given(_vals(schema.MAIN), st.none() | _vals(schema.HEALTH))
def test_report_round_trip(main, health):
    r = codec.encode_report(main, health)
    m, h, end = codec.decode_report(r)
    assert end == len(r) == codec.report_len(r, 0)
    flags = main[schema.FLAGS_INDEX]
    want_flags = flags | schema.FLAG_HEALTH if health is not None else flags & ~schema.FLAG_HEALTH
    assert m[schema.FLAGS_INDEX] == want_flags
    assert m[:1] + m[2:] == main[:1] + main[2:]
    assert h == health


def test_out_of_range_values_saturate_instead_of_wrapping():
    r = codec.encode_report((-5, 0, 40000, -1, 70000, 0, 0, 0))
    m, _, _ = codec.decode_report(r)
    assert m[0] == 0 and m[2] == 32767 and m[3] == 0 and m[4] == 65535


def test_typical_report_with_header_and_tag_is_32_bytes_and_smaller_than_json():
    up = codec.encode_uplink(KEY, 7, 1, [codec.encode_report(TYPICAL)])
    assert len(up) == 32
    fields = dict(zip(schema.names(schema.MAIN), TYPICAL, strict=True), device=7, counter=1)
    as_json = json.dumps(fields, separators=(",", ":"))
    assert len(as_json) > 3 * len(up)


@given(st.lists(st.tuples(_vals(schema.MAIN), st.booleans()), min_size=1, max_size=15),
       st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFF0), st.none() | st.tuples(st.integers(0, 65535),
                                                                                     st.integers(0, 255)))
@settings(max_examples=60)
def test_uplink_round_trip(reports, dev, ctr, cmd_ack):
    raw = [codec.encode_report(m, (0, 1, 2, 3, 4) if h else None) for m, h in reports]
    up = codec.encode_uplink(KEY, dev, ctr, raw, cmd_ack)
    p = codec.Uplink(up)
    assert p.verify(KEY) and not p.verify(OTHER)
    assert (p.device_id, p.counter, p.cmd_ack) == (dev, ctr, cmd_ack)
    assert p.raw_reports() == [(ctr + i, r) for i, r in enumerate(raw)]
    assert codec.uplink_length(up) == len(up)
    for cut in range(len(up)):  # a TCP stream: a prefix never claims to be complete
        assert codec.uplink_length(up[:cut]) in (0, len(up))


def test_every_single_byte_change_is_detected():
    up = codec.encode_uplink(KEY, 7, 100, [codec.encode_report(TYPICAL), codec.encode_report(TYPICAL, (1,) * 5)])
    for i in range(len(up)):
        for bit in (0x01, 0x80):
            bad = bytearray(up)
            bad[i] ^= bit
            try:
                ok = codec.Uplink(bytes(bad)).verify(KEY)
            except ValueError as e:
                assert e.args[0] in (codec.REASON_TRUNCATED, codec.REASON_MALFORMED, codec.REASON_VERSION)
                continue
            assert not ok, f"byte {i} bit {bit:#x} changed and the tag still verified"


@given(st.binary(max_size=500))
@settings(max_examples=300)
def test_garbage_raises_valueerror_with_a_reason_and_nothing_else(data):
    try:
        p = codec.Uplink(data)
    except ValueError as e:
        assert e.args[0] in (codec.REASON_TRUNCATED, codec.REASON_OVERSIZED, codec.REASON_MALFORMED,
                             codec.REASON_VERSION)
        return
    assert not p.verify(KEY)


def test_each_bad_input_names_its_reason():
    up = codec.encode_uplink(KEY, 7, 1, [codec.encode_report(TYPICAL)])
    cases = {
        codec.REASON_TRUNCATED: up[:20],
        codec.REASON_OVERSIZED: up + bytes(codec.MAX_UPLINK),
        codec.REASON_VERSION: bytes([0x60 | 1]) + up[1:],
        codec.REASON_MALFORMED: up + b"x",
    }
    for reason, data in cases.items():
        with pytest.raises(ValueError) as ei:
            codec.Uplink(data)
        assert ei.value.args[0] == reason, (reason, ei.value.args)


def test_reply_round_trip_and_refusals():
    cmds = [(1, codec.OP_SET_INTERVAL, 0, 300), (2, codec.OP_SET_THRESHOLD, 3, -1250)]
    rep = codec.encode_reply(KEY, 7, 41, cmds)
    assert codec.parse_reply(KEY, 7, rep) == (41, [tuple(c) for c in cmds], None)
    with pytest.raises(ValueError, match=codec.REASON_TAG):
        codec.parse_reply(OTHER, 7, rep)
    with pytest.raises(ValueError, match="reply for device 7"):
        codec.parse_reply(KEY, 8, rep)
    with pytest.raises(ValueError):
        codec.parse_reply(KEY, 7, rep[:-1])
    # an uplink never verifies as a reply (direction byte in the tag input)
    up = codec.encode_uplink(KEY, 7, 1, [codec.encode_report(TYPICAL)])
    with pytest.raises(ValueError):
        codec.parse_reply(KEY, 7, up)


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF),
       st.lists(st.tuples(st.integers(0, 0xFFFF), st.sampled_from(codec.OPS), st.integers(0, 255),
                          st.integers(-2**31, 2**31 - 1)), max_size=codec.MAX_CMDS))
@settings(max_examples=80)
def test_reply_with_the_collectors_time_round_trip(dev, acked, now, cmds):
    rep = codec.encode_reply(KEY, dev, acked, cmds, now)
    assert len(rep) == codec.HEADER + codec.TIME_LEN + codec.CMD_LEN * len(cmds) + codec.TAG_LEN <= codec.MAX_REPLY
    assert codec.parse_reply(KEY, dev, rep) == (acked, cmds, now)
    old = codec.encode_reply(KEY, dev, acked, cmds)  # to a version 1 uplink: no time, 4 bytes shorter
    assert len(old) == len(rep) - codec.TIME_LEN and codec.parse_reply(KEY, dev, old) == (acked, cmds, None)


def test_a_changed_time_in_a_reply_never_verifies():
    rep = codec.encode_reply(KEY, 7, 41, [(1, codec.OP_DIAG, 0, 0)], 1_800_000_000)
    for i in range(codec.HEADER, codec.HEADER + codec.TIME_LEN):  # every bit of the time field
        for bit in range(8):
            bad = bytearray(rep)
            bad[i] ^= 1 << bit
            with pytest.raises(ValueError) as e:
                codec.parse_reply(KEY, 7, bytes(bad))
            assert e.value.args[0] == codec.REASON_TAG
    # nor does a version 1 reply made into a version 2 one (or the reverse) by its header and length
    v1 = codec.encode_reply(KEY, 7, 41, [])
    for forged in (bytes([0x40]) + v1[1:9] + bytes(4) + v1[9:], bytes([0x20]) + rep[1:9] + rep[13:]):
        with pytest.raises(ValueError):
            codec.parse_reply(KEY, 7, forged)
    with pytest.raises(ValueError) as e:
        codec.parse_reply(KEY, 7, rep[:-1])
    assert e.value.args[0] == codec.REASON_MALFORMED


def test_old_and_new_uplinks_differ_only_in_the_version_bits():
    r = [codec.encode_report(TYPICAL)]
    new, old = codec.encode_uplink(KEY, 7, 1, r), codec.encode_uplink(KEY, 7, 1, r, version=1)
    assert new[0] == 0x41 and old[0] == 0x21 and new[1:-codec.TAG_LEN] == old[1:-codec.TAG_LEN]
    assert codec.Uplink(new).version == 2 and codec.Uplink(old).version == 1 and codec.Uplink(old).verify(KEY)
    with pytest.raises(ValueError) as e:
        codec.encode_uplink(KEY, 7, 1, r, version=3)
    assert e.value.args[0] == codec.REASON_VERSION


def test_micropython_encodes_the_bytes_cpython_decodes():
    code = f"""
from proto import codec
r = codec.encode_report({TYPICAL!r}, (-71, 3, 2, 5, 0))
print(codec.encode_uplink({KEY!r}, 424242, 99, [r, codec.encode_report({TYPICAL!r})], (4, 0)).hex())
rep = bytes.fromhex({codec.encode_reply(KEY, 424242, 100, [(5, 3, 0, 0)]).hex()!r})
print(codec.parse_reply({KEY!r}, 424242, rep))
rep = bytes.fromhex({codec.encode_reply(KEY, 424242, 101, [(6, 3, 0, 0)], 1_800_000_000).hex()!r})
print(codec.parse_reply({KEY!r}, 424242, rep))
"""
    out = run_mpy(code).check().splitlines()
    up = bytes.fromhex(out[0])
    want = codec.encode_uplink(KEY, 424242, 99, [codec.encode_report(TYPICAL, (-71, 3, 2, 5, 0)),
                                                   codec.encode_report(TYPICAL)], (4, 0))
    assert up == want
    p = codec.Uplink(up)
    assert p.verify(KEY) and p.cmd_ack == (4, 0)
    assert codec.decode_report(p.raw_reports()[0][1])[1] == (-71, 3, 2, 5, 0)
    assert out[1] == "(100, [(5, 3, 0, 0)], None)"
    assert out[2] == "(101, [(6, 3, 0, 0)], 1800000000)"


def test_encoding_an_uplink_allocates_little_under_micropython():
    code = f"""
import gc
from proto import codec, auth
k = auth.Key({KEY!r})
v = {TYPICAL!r}
codec.encode_uplink(k, 1, 1, [codec.encode_report(v)])
gc.collect()
a = gc.mem_alloc()
for i in range(10):
    codec.encode_uplink(k, 1, i, [codec.encode_report(v)])
print((gc.mem_alloc() - a) // 10)
"""
    per = int(run_mpy(code).check())
    assert 0 < per <= 1536, per  # measured 1379 on the unix port: two SHA-256 contexts dominate


def test_commands_apply_atomically_and_skip_what_was_applied():
    st0 = {"interval": 600, "cmd": 3}
    cmds = [(3, codec.OP_SET_INTERVAL, 0, 60), (4, codec.OP_SET_INTERVAL, 0, 120),
            (5, codec.OP_SET_THRESHOLD, 2, 900), (6, 99, 0, 0), (7, codec.OP_REBOOT, 0, 0)]
    new, reboot = commands.apply(st0, cmds)
    assert st0 == {"interval": 600, "cmd": 3}  # the input is never changed: save new, or nothing happened
    assert new["interval"] == 120 and new["thr"] == {2: 900} and new["cmd"] == 7 and new["refused"] == 1
    assert reboot
    again, reboot2 = commands.apply(new, cmds)  # the same reply again (a replay): nothing applies
    assert again is new and not reboot2
    assert commands.cmd_ack(new) == (7, 1) and commands.cmd_ack({}) is None
    bad, _ = commands.apply({}, [(1, codec.OP_SET_INTERVAL, 0, 1)])  # 1 s would drain the battery
    assert "interval" not in bad and bad["refused"] == 1


def test_wire_layout_is_what_the_docstring_says():
    up = codec.encode_uplink(KEY, 0x01020304, 0x0A0B0C0D, [codec.encode_report(TYPICAL)])
    b0, dev, ctr, ts = struct.unpack_from(">BIII", up)
    assert (b0, dev, ctr, ts) == (0x41, 0x01020304, 0x0A0B0C0D, TYPICAL[0])
    rep = codec.encode_reply(KEY, 0x01020304, 0x0A0B0C0E, [(9, codec.OP_REBOOT, 0, -2)], 0x6A5B4C3D)
    assert struct.unpack_from(">BIIIHBBi", rep) == (0x41, 0x01020304, 0x0A0B0C0E, 0x6A5B4C3D, 9, codec.OP_REBOOT, 0,
                                                     -2)
    assert len(rep) == codec.HEADER + codec.TIME_LEN + codec.CMD_LEN + codec.TAG_LEN
