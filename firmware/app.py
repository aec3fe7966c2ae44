"""The wake cycle (placeholder until the device application lands): sample, compute, print."""

from array import array


def main():
    from core import features

    w = array("h", (((i * 37) % 200) - 100 for i in range(256)))
    f = features.Features()
    features.compute(w, f)
    print("fieldnode: window " + " ".join("%s=%d" % (k, f.v[i]) for i, k in enumerate(features.NAMES)))
