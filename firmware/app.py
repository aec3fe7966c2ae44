"""The wake cycle (placeholder until the device application lands): sample, compute, print."""

from array import array


def main():
    from core import kernels

    w = array("h", (((i * 37) % 200) - 100 for i in range(256)))
    n, mn, mx, s, ss = kernels.sums(w)
    print("fieldnode: window n=%d min=%d max=%d sum=%d sumsq=%d" % (n, mn, mx, s, ss))
