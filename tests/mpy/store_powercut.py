# Power-cut test of store.queue under MicroPython, the way littlefs and MCUboot test themselves: run a scenario
# on a littlefs volume in RAM, cut the power at the Nth flash operation (that operation is left half done, every
# later one fails), remount from the bytes and check what survived; for N = 1, 2, 3 ... every operation.
# argv: block_size blocks appends [mode: queue | counter | kv].
# Prints "FAIL ..." lines and finally "DONE cuts=<n> ops=<scenario ops>".
import sys

import vfs
from store.queue import Queue

BS = int(sys.argv[1])
NBLK = int(sys.argv[2])
APPENDS = int(sys.argv[3])
MODE = sys.argv[4] if len(sys.argv) > 4 else "queue"
QMAX = 1400
QSEG = 350


class Flash:
    """RAM block device with NOR semantics: erase sets 0xFF, program only clears bits; power fails at op ``cut``."""

    def __init__(self, data=None):
        self.data = bytearray(data) if data is not None else bytearray(b"\xff" * (BS * NBLK))
        self.cut = 0  # 0: never; else the operation number that is torn
        self.ops = 0
        self.dead = False
        self.ff = b"\xff" * BS

    def _op(self):
        if self.dead:
            raise OSError(5)
        self.ops += 1
        if self.ops == self.cut:
            self.dead = True
            return True
        return False

    def readblocks(self, b, buf, off=0):
        a = b * BS + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, b, buf, off=0):
        torn = self._op()
        a = b * BS + off
        n = len(buf) // 2 if torn else len(buf)
        d = self.data
        if d[a:a + n] == self.ff[:n]:
            d[a:a + n] = memoryview(buf)[:n]
        else:
            for i in range(n):
                d[a + i] &= buf[i]
        if torn:
            raise OSError(5)

    def ioctl(self, op, arg):
        if op == 4:
            return NBLK
        if op == 5:
            return BS
        if op == 6:
            torn = self._op()
            a = arg * BS
            n = BS // 2 if torn else BS
            self.data[a:a + n] = self.ff[:n]
            if torn:
                raise OSError(5)
            return 0
        return 0


def mount(dev):
    try:
        vfs.umount("/pc")
    except OSError:
        pass
    vfs.mount(vfs.VfsLfs2(dev), "/pc")


def record(i):
    n = 5 + (i * 7) % 36
    return bytes(((i * 31 + k) & 0xFF) for k in range(n))


def scenario(dev, model):
    """The workload: appends, acks of what was peeked, clean reboots; enough to fill the queue and drop."""
    q = Queue("/pc/q", QMAX, QSEG)
    for i in range(APPENDS):
        r = record(i)
        model["inflight"] = ("append", q.stats()["next"], r)
        seq = q.append(r)
        model["appended"][seq] = r
        model["st"] = q.stats()
        if i % 4 == 3 and i < APPENDS // 2:
            got = q.peek(3)
            if got:
                model["inflight"] = ("ack", got[-1][0], None)
                q.ack(got[-1][0])
                model["st"] = q.stats()
        if i % 9 == 8:
            model["inflight"] = ("reopen", 0, None)
            q = Queue("/pc/q", QMAX, QSEG)
            model["st"] = q.stats()
    model["inflight"] = None


def check(n, dev, model):
    dev2 = Flash(dev.data)
    mount(dev2)
    fails = []
    try:
        q = Queue("/pc/q", QMAX, QSEG)
    except Exception as e:
        return ["N=%d recovery raised %r" % (n, e)]
    st = q.stats()
    m = model["st"]
    kind, iseq, irec = model["inflight"] or ("none", 0, None)
    present = q.peek(100000)
    seqs = [s for s, _ in present]
    if seqs != list(range(st["acked"] + 1, st["next"])):
        fails.append("N=%d peek %r not the run %d..%d" % (n, seqs, st["acked"] + 1, st["next"] - 1))
    if st["acked"] < m["acked"]:
        fails.append("N=%d cursor went back %d < %d" % (n, st["acked"], m["acked"]))
    if kind == "ack":
        if st["acked"] > iseq or st["dropped"] != m["dropped"]:
            fails.append("N=%d ack in flight to %d left acked %d dropped %d" % (n, iseq, st["acked"], st["dropped"]))
    elif kind == "append":
        if st["dropped"] - m["dropped"] != st["acked"] - m["acked"]:
            fails.append("N=%d drop miscounted: %r after %r" % (n, st, m))
    elif st["acked"] != m["acked"] or st["dropped"] != m["dropped"]:
        fails.append("N=%d %s changed the cursor: %r after %r" % (n, kind, st, m))
    appended = model["appended"]
    for s, r in present:
        if appended.get(s) != r and not (kind == "append" and s == iseq and r == irec):
            fails.append("N=%d seq %d delivered with content never appended under it" % (n, s))
    for s in appended:
        if s > st["acked"] and s not in seqs:
            fails.append("N=%d appended seq %d lost (acked %d)" % (n, s, st["acked"]))
    if st["depth"] != len(present):
        fails.append("N=%d depth %d but %d records" % (n, st["depth"], len(present)))
    top = max(appended) if appended else 0
    if kind == "append" and iseq in seqs:
        top = max(top, iseq)
    new = q.append(b"after the cut")
    if new <= top:
        fails.append("N=%d seq %d handed out again after recovery (top %d)" % (n, new, top))
    again = q.peek(100000)
    if not again or again[-1] != (new, b"after the cut"):
        fails.append("N=%d record appended after recovery not read back" % n)
    return fails


def scenario_counter(dev, model):
    from store.counter import Counter

    c = Counter("/pc/ctr", 4)
    for i in range(APPENDS):
        model["handed"].append(c.next())
        if i % 7 == 6:
            c = Counter("/pc/ctr", 4)


def check_counter(n, dev, model):
    from store.counter import Counter

    mount(Flash(dev.data))
    v = Counter("/pc/ctr", 4).next()
    if model["handed"] and v <= max(model["handed"]):
        return ["N=%d counter gave %d again after the cut (had given up to %d)" % (n, v, max(model["handed"]))]
    return []


def scenario_kv(dev, model):
    from store.kv import KV

    kv = KV("/pc/state.json")
    for i in range(APPENDS):
        d = {"cmd": i, "thr": {"0": i * 3}, "pad": "x" * (i % 50)}
        model["inflight"] = d
        kv.save(d)
        model["saved"] = d


def check_kv(n, dev, model):
    from store.kv import KV

    mount(Flash(dev.data))
    got = KV("/pc/state.json").load({"none": 1})
    ok = [model["saved"] or {"none": 1}, model["inflight"]]
    if got not in ok:
        return ["N=%d kv read %r, neither the last saved nor the one being saved" % (n, got)]
    return []


def run():
    if MODE == "counter":
        return run_mode(scenario_counter, check_counter, lambda: {"handed": []})
    if MODE == "kv":
        return run_mode(scenario_kv, check_kv, lambda: {"saved": None, "inflight": None})
    return run_queue()


def run_mode(scen, chk, fresh):
    dev = Flash()
    vfs.VfsLfs2.mkfs(dev)
    mount(dev)
    dev.ops = 0
    scen(dev, fresh())
    total = dev.ops
    cuts = failed = 0
    for n in range(1, total + 1):
        dev = Flash()
        vfs.VfsLfs2.mkfs(dev)
        mount(dev)
        dev.ops = 0
        dev.cut = n
        model = fresh()
        try:
            scen(dev, model)
        except OSError:
            pass
        if not dev.dead:
            continue
        cuts += 1
        for f in chk(n, dev, model):
            failed += 1
            if failed <= 20:
                print("FAIL", f)
    print("DONE cuts=%d ops=%d" % (cuts, total))


def run_queue():
    # A clean run first: how many flash operations the scenario takes.
    dev = Flash()
    vfs.VfsLfs2.mkfs(dev)
    mount(dev)
    dev.ops = 0
    model = {"appended": {}, "st": None, "inflight": None}
    scenario(dev, model)
    total = dev.ops
    cuts = 0
    failed = 0
    for n in range(1, total + 1):
        dev = Flash()
        vfs.VfsLfs2.mkfs(dev)
        mount(dev)
        dev.ops = 0
        dev.cut = n
        model = {"appended": {}, "st": {"acked": 0, "dropped": 0, "next": 1}, "inflight": None}
        try:
            scenario(dev, model)
        except OSError:
            pass
        if not dev.dead:
            continue
        cuts += 1
        for f in check(n, dev, model):
            failed += 1
            if failed <= 20:
                print("FAIL", f)
    print("DONE cuts=%d ops=%d" % (cuts, total))


run()
