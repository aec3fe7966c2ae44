"""The flash queue, the atomic state store and the persisted counter: power cuts at every flash operation under
the real MicroPython runtime on littlefs, torn tails and bit rot, drop-oldest, bounded recovery, and a
model-based property test under CPython."""

import os
import re

import pytest
from conftest import ROOT, run_mpy
from hypothesis import given, settings
from hypothesis import strategies as st
from store import queue as queue_mod
from store.counter import Counter
from store.kv import KV
from store.queue import Queue

POWERCUT = ROOT / "tests" / "mpy" / "store_powercut.py"


def _powercut(*args):
    r = run_mpy(file=POWERCUT, args=[str(a) for a in args], heap=4_000_000, timeout=240)
    fails = [ln for ln in r.out.splitlines() if ln.startswith("FAIL")]
    done = re.search(r"DONE cuts=(\d+) ops=(\d+)", r.out)
    assert done, f"power-cut run did not finish:\n{r.out[-2000:]}\n{r.err[-2000:]}"
    assert not fails, "\n".join(fails)
    return int(done.group(1)), int(done.group(2))


@pytest.mark.parametrize("block_size,blocks", [(512, 64), (4096, 16)])
def test_queue_survives_a_power_cut_at_every_flash_operation(block_size, blocks):
    cuts, ops = _powercut(block_size, blocks, 60, "queue")
    # every operation of the scenario was cut once; the scenario fills the queue, so drops are exercised too
    assert cuts == ops and cuts > 150


@pytest.mark.parametrize("mode,min_cuts", [("counter", 20), ("kv", 100)])
def test_counter_and_state_store_survive_power_cuts(mode, min_cuts):
    cuts, ops = _powercut(512, 64, 40, mode)
    assert cuts == ops and cuts >= min_cuts


def test_append_allocates_little_under_micropython(tmp_path):
    code = f"""
import gc
from store.queue import Queue
q = Queue({str(tmp_path / 'q')!r}, 8192, 1024)
r = bytes(17)
for i in range(5):
    q.append(r)
gc.collect()
a0 = gc.mem_alloc()
for i in range(20):
    q.append(r)
print((gc.mem_alloc() - a0) // 20)
"""
    per_append = int(run_mpy(code).check())
    assert 0 < per_append <= 256, per_append


def _frames(q):
    return q.peek(10_000)


def test_torn_tail_on_a_filesystem_that_tears_is_cut_back_by_rename(tmp_path):
    q = Queue(str(tmp_path), 8192, 1024)
    recs = [bytes([i]) * (10 + i) for i in range(5)]
    for r in recs:
        q.append(r)
    tail = sorted(p for p in tmp_path.iterdir() if p.suffix == ".q")[-1]
    good = tail.read_bytes()
    with open(tail, "ab") as f:  # half a frame, as a FAT volume leaves it after a cut mid-write
        f.write(b"\xa5\x00\x20\x00\x00\x00\x06\x12")
    q2 = Queue(str(tmp_path), 8192, 1024)
    assert [r for _, r in _frames(q2)] == recs
    assert tail.read_bytes() == good and not list(tmp_path.glob("*.tmp"))
    assert q2.append(b"next") == 6
    assert _frames(q2)[-1] == (6, b"next")


def test_bit_rot_in_one_record_skips_only_that_record(tmp_path):
    q = Queue(str(tmp_path), 8192, 1024)
    for i in range(6):
        q.append(bytes([i]) * 20)
    seg = sorted(tmp_path.glob("*.q"))[0]
    data = bytearray(seg.read_bytes())
    data[2 * 31 + 11 + 5] ^= 0x40  # a payload byte of the third record (frames of 11 + 20 bytes)
    seg.write_bytes(bytes(data))
    q2 = Queue(str(tmp_path), 8192, 1024)
    first = _frames(q2)
    assert [s for s, _ in first] == [1, 2]  # a run stops at the gap
    q2.ack(2)
    rest = _frames(q2)
    assert [s for s, _ in rest] == [4, 5, 6] and rest[0][1] == bytes([3]) * 20
    assert q2.stats()["corrupt"] >= 1


def test_full_queue_drops_oldest_and_counts_them(tmp_path):
    q = Queue(str(tmp_path), 2048, 512)
    for i in range(200):
        q.append(i.to_bytes(2, "big") * 10)
    s = q.stats()
    assert s["bytes"] <= 2048 and s["dropped"] > 0
    assert s["dropped"] + s["depth"] == 200
    got = _frames(q)
    assert got[0][0] == s["dropped"] + 1 and got[-1][0] == 200
    assert all(r == s_.to_bytes(2, "big") * 10 for s_, r in [(s_ - 1, r) for s_, r in got])
    q2 = Queue(str(tmp_path), 2048, 512)
    assert q2.stats()["dropped"] == s["dropped"]


def test_bad_records_are_refused_with_a_reason(tmp_path):
    q = Queue(str(tmp_path), 4096, 1024)
    with pytest.raises(ValueError, match="record of 0 bytes"):
        q.append(b"")
    with pytest.raises(ValueError, match="record of 513 bytes"):
        q.append(bytes(513))
    with pytest.raises(ValueError, match="queue too small"):
        Queue(str(tmp_path / "small"), 600)


def test_recovery_reads_only_the_tail_segment(tmp_path, monkeypatch):
    def bytes_read_on_open(n):
        d = tmp_path / f"q{n}"
        q = Queue(str(d), 64 * 1024, 1024)
        for _ in range(n):
            q.append(bytes(20))
        count = [0]
        real_open = open

        class Counting:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.f.close()

            def read(self, *a):
                b = self.f.read(*a)
                count[0] += len(b)
                return b

            def __getattr__(self, k):
                return getattr(self.f, k)

        monkeypatch.setattr(queue_mod, "open", lambda p, m="r": Counting(real_open(p, m)), raising=False)
        Queue(str(d), 64 * 1024, 1024)
        monkeypatch.undo()
        return count[0]

    small, big = bytes_read_on_open(3), bytes_read_on_open(1500)  # 1 segment vs 46 segments
    assert 0 < small <= 1024 and 0 < big <= 1024


def test_counter_never_repeats_across_reopen(tmp_path):
    p = str(tmp_path / "ctr")
    c = Counter(p, reserve=8)
    got = [c.next() for _ in range(5)]
    c2 = Counter(p, reserve=8)
    assert c2.next() > max(got)
    assert got == [1, 2, 3, 4, 5]


def test_kv_round_trip_and_torn_file_falls_back(tmp_path):
    p = str(tmp_path / "state.json")
    kv = KV(p)
    assert kv.load({"interval": 600}) == {"interval": 600}
    kv.save({"interval": 300, "cmd": 2})
    with open(p, "r+b") as f:  # rot in the saved file: the CRC notices, nothing half-read is returned
        f.seek(6)
        f.write(b"#")
    assert kv.load({"interval": 600}) == {"interval": 600}


ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=60)),
    st.tuples(st.just("ack"), st.integers(0, 6)),
    st.tuples(st.just("reopen"), st.none()),
), max_size=60)


@settings(max_examples=40, deadline=None)
@given(ops)
def test_queue_behaves_like_a_list_with_a_cursor(tmp_path_factory, seq):
    d = str(tmp_path_factory.mktemp("q"))
    q = Queue(d, 1 << 20, 512)  # large enough not to drop: the model is a plain list
    model = []  # (seq, record) not yet acked
    nxt = 1
    for op, arg in seq:
        if op == "append":
            assert q.append(arg) == nxt
            model.append((nxt, arg))
            nxt += 1
        elif op == "ack":
            got = q.peek(arg)
            assert got == model[:arg]
            if got:
                q.ack(got[-1][0])
                model = model[len(got):]
        else:
            q = Queue(d, 1 << 20, 512)
        assert q.stats()["depth"] == len(model)
    assert q.peek(10_000) == model
    assert sum(1 for n in os.listdir(d) if n.endswith(".q")) <= max(1, len(model))
