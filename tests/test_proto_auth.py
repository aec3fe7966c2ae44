"""HMAC-SHA256 written by hand (proto.auth) against RFC 4231's test vectors, under CPython and MicroPython."""

import hmac as py_hmac
from hashlib import sha256

import pytest
from conftest import run_mpy
from hypothesis import given
from hypothesis import strategies as st
from proto import auth

# RFC 4231 section 4: test cases 1-7, HMAC-SHA-256 (case 5 gives only the first 128 bits).
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. The key "
                    b"needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


@pytest.mark.parametrize("case", range(1, 8))
def test_rfc4231_vectors_under_cpython(case):
    key, data, want = RFC4231[case - 1]
    assert auth.hmac_sha256(key, data).hex().startswith(want)
    if len(key) >= auth.MIN_KEY:
        k = auth.Key(key)
        assert k.mac(data[:7], data[7:]).hex().startswith(want)  # parts are concatenated
        assert k.tag(data) == bytes.fromhex(want)[:auth.TAG_LEN]


def test_rfc4231_vectors_under_micropython():
    lines = "\n".join(f"print(auth.hmac_sha256({k!r}, {d!r}).hex())" for k, d, _ in RFC4231)
    lines += "\n" + "\n".join(f"print(auth.Key({k!r}).mac({d!r}).hex())" for k, d, _ in RFC4231 if len(k) >= 16)
    out = run_mpy("from proto import auth\n" + lines).check().split()
    wants = [w for _, _, w in RFC4231]
    wants += [w for k, _, w in RFC4231 if len(k) >= 16]
    assert len(out) == len(wants)
    for got, want in zip(out, wants, strict=True):
        assert got.startswith(want)


def test_short_keys_are_refused_with_the_length():
    with pytest.raises(ValueError, match="key too short: 4 bytes, need at least 16"):
        auth.Key(b"Jefe")


@given(st.binary(min_size=16, max_size=100), st.binary(max_size=300))
def test_matches_the_standard_library(key, msg):
    assert auth.Key(key).mac(msg) == py_hmac.new(key, msg, sha256).digest()


@given(st.binary(min_size=6, max_size=6), st.binary(min_size=6, max_size=6))
def test_equal_is_equality(a, b):
    assert auth.equal(a, b) == (a == b)
    assert not auth.equal(a, a + b"\x00")
