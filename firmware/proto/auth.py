"""HMAC-SHA256 written on top of hashlib.sha256 (MicroPython has no hmac module), and the truncated tag.

HMAC as RFC 2104 section 2: H((K0 ^ opad) || H((K0 ^ ipad) || text)), B = 64 bytes for SHA-256, K0 = K padded
with zeros to B bytes, or H(K) padded when K is longer than B. Checked against the RFC 4231 test vectors
(tests/test_proto_auth.py), under both CPython and MicroPython.

Tag length: TAG_LEN = 6 bytes (48 bits), the leftmost bits of the HMAC as RFC 2104 section 5 says. That section
recommends at least 80 bits and at least half the hash; we go below it on purpose, as LoRaWAN does with its 4-byte
MIC, because forging is an online-only attack here: each guess costs one datagram sent to the collector, which
refuses and counts every bad tag per device and per source address and throttles a flooding address. At 2**48
tags an attacker sending 10,000 guesses a second needs on average about 450 years to forge one report; with 32
bits (LoRaWAN) it would be 2.5 days. 6 bytes is what lets a typical report and its header and tag fit in 32 bytes
(see proto/codec.py). A replay is refused by the counter, not by the tag.
"""

import hashlib
from micropython import const

TAG_LEN = const(6)
_BLOCK = const(64)  # SHA-256 block size B (RFC 2104 section 2; FIPS 180-4)
MIN_KEY = const(16)  # 128-bit device keys; RFC 2104 section 3: keys shorter than L (32) are "strongly discouraged"
# below L/2; 16 bytes is what provisioning issues.


class Key:
    """A device key with its padded inner and outer blocks computed once (two 64-byte bytes objects)."""

    def __init__(self, key):
        key = bytes(key)
        if len(key) < MIN_KEY:
            raise ValueError("key too short: %d bytes, need at least %d" % (len(key), MIN_KEY))
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        ipad = bytearray(_BLOCK)
        opad = bytearray(_BLOCK)
        for i in range(_BLOCK):
            k = key[i] if i < len(key) else 0
            ipad[i] = k ^ 0x36
            opad[i] = k ^ 0x5C
        self._ipad = bytes(ipad)
        self._opad = bytes(opad)

    def mac(self, *parts):
        """The full 32-byte HMAC-SHA256 over the concatenation of ``parts`` (no copy of them is made)."""
        h = hashlib.sha256(self._ipad)
        for p in parts:
            h.update(p)
        inner = h.digest()
        h = hashlib.sha256(self._opad)
        h.update(inner)
        return h.digest()

    def tag(self, *parts):
        return self.mac(*parts)[:TAG_LEN]


def hmac_sha256(key, msg):
    """HMAC-SHA256 of ``msg`` under ``key`` (any length key, RFC 2104; no minimum, for the RFC 4231 vectors)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    k = bytes(key) + bytes(_BLOCK - len(key))
    h = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    h.update(msg)
    inner = h.digest()
    h = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    h.update(inner)
    return h.digest()


def equal(a, b):
    """Compare two tags in time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0
