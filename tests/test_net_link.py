"""Link configuration and the 3GPP codings (firmware/net/link.py) under CPython: TS 24.008 timers, eDRX, +CSQ."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from net import link as L

UNITS_3412 = {"011": 2, "100": 30, "101": 60, "000": 600, "001": 3600, "010": 36000, "110": 1152000}


def test_fact_examples():
    assert L.t3412_s("01000111") == 70 * 3600  # FACTS.md: 7 x 10 h
    assert L.t3412(3600) == "00000110" and L.t3324(60) == "00011110"
    assert L.t3412(None) == "11100000" and L.t3412_s("11100000") is None
    assert L.csq_dbm(0) == -113 and L.csq_dbm(2) == -109 and L.csq_dbm(30) == -53 and L.csq_dbm(31) == -51
    assert L.csq_dbm(99) is None
    assert L.edrx(81920) == "0101" and L.edrx_ms("0101") == 81920
    assert L.edrx(61440, nbiot=True) == "0101"  # 61.44 s does not exist for NB-S1: the next coded cycle


@given(st.integers(0, 320 * 3600 * 31))
def test_t3412_rounds_up_to_the_nearest_coded_value(s):
    bits = L.t3412(s)
    got = L.t3412_s(bits)
    unit = UNITS_3412[bits[:3]]
    assert len(bits) == 8 and s <= got < s + unit
    # the finest unit that can hold the value (TS 24.008 table 10.5.163a)
    assert all(-(-s // u) > 31 for u in UNITS_3412.values() if u < unit)


@given(st.integers(0, 360 * 31))
def test_t3324_round_trip(s):
    got = L.t3324_s(L.t3324(s))
    assert s <= got <= max(2 * s, s + 2)


def test_timers_out_of_range():
    with pytest.raises(ValueError, match="longer than the timer"):
        L.t3324(360 * 31 + 1)
    with pytest.raises(ValueError, match="whole seconds"):
        L.t3412(-5)


def test_config_defaults_are_the_soracom_preset():
    c = L.config()
    assert (c["apn"], c["user"], c["password"], c["endpoint"]) == ("soracom.io", "sora", "sora",
                                                                    "uni.soracom.io:23080")


@pytest.mark.parametrize("cfg,msg", [
    ({"rat": "lte"}, "rat 'lte' is not one of catm, nbiot, both"),
    ({"transport": "quic"}, "transport 'quic' is not one of udp, tcp"),
    ({"endpoint": "uni.soracom.io"}, "must be host:port"),
    ({"endpoint": "h:99999"}, "port 1..65535"),
    ({"apn": 'a"b'}, "may not contain quotes"),
    ({"bands": [0]}, "not an LTE band"),
    ({"psm": {"tau_s": 1}}, "psm must be"),
    ({"edrx": -1}, "edrx must be"),
    ("apn=x", "must be a dict"),
])
def test_bad_config_says_what_and_what_is_allowed(cfg, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")) as e:
        L.config(cfg)
    assert str(e.value).startswith("link config") and "\n" not in str(e.value)
