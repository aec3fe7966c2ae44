"""RTC memory across deep sleep (firmware/rtcstate.py): a detector state of up to 512 bytes (the seasonal profile)
rides in a CRC-checked tail; a torn tail costs only the detector's state, never the head."""

import pytest
import rtcstate


def _state(det):
    s = rtcstate.State()
    s.cycles, s.last_uplink, s.alarm, s.detector = 7, 1234567, 3, det
    return s


@pytest.mark.parametrize("n", [0, 5, 32, 33, 440, rtcstate.DET_MAX])
def test_detector_states_up_to_512_bytes_round_trip(n):
    det = bytes((i * 37 + 11) & 0xFF for i in range(n))
    raw = _state(det).dump()
    assert len(raw) == (rtcstate.SIZE if n <= 32 else rtcstate.SIZE + 4 + n) <= 2048  # ESP32 RTC user memory
    back = rtcstate.State().load(raw)
    assert not back.fresh and back.detector == det and back.cycles == 7 and back.last_uplink == 1234567


def test_a_torn_tail_loses_only_the_detector():
    raw = bytearray(_state(bytes(range(200))).dump())
    raw[rtcstate.SIZE + 50] ^= 0x40
    back = rtcstate.State().load(bytes(raw))
    assert not back.fresh and back.detector == b"" and back.cycles == 7 and back.alarm == 3
    assert rtcstate.State().load(bytes(raw[:rtcstate.SIZE + 10])).detector == b""  # cut short


def test_a_state_over_the_budget_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        _state(bytes(rtcstate.DET_MAX + 1)).dump()


def test_a_node_with_the_seasonal_detector_keeps_its_profile_across_deep_sleep(make_run):
    from fieldnode import fwbridge

    det = {"period": 96, "bins": 96}
    size = fwbridge.load("core.detector").make(det).size
    assert 32 < size <= rtcstate.DET_MAX
    run = make_run(board="m5stack-core2", duration="1h", environment={"preset": "quiet"}, config={"detector": det})
    run.setup()
    b = run.devices[0].board
    for _ in range(3):
        c = b.run_cycle()
        assert c.end == "deepsleep", c.output
        b.sleep_until_wake(c)
    assert len(b.resets.rtc_memory) == rtcstate.SIZE + 4 + size
    assert rtcstate.State().load(b.resets.rtc_memory).detector != b""
