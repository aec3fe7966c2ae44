"""Placeholder viper kernel (replaced by the feature core)."""

import micropython


@micropython.viper
def _sums(a, out):
    p = ptr16(a)
    o = ptr32(out)
    n = int(len(a))
    mn = 32767
    mx = -32768
    s = 0
    for i in range(n):
        v = (p[i] ^ 0x8000) - 0x8000
        s += v
        if v < mn:
            mn = v
        if v > mx:
            mx = v
    o[0] = n
    o[1] = mn
    o[2] = mx
    o[3] = s


def sums(a):
    from array import array

    out = array("i", [0, 0, 0, 0])
    _sums(a, out)
    ss = 0
    for v in a:
        ss += v * v
    return out[0], out[1], out[2], out[3], ss
