"""The flash queue: reports wait here until the collector has acknowledged them. A power cut at any instant loses
nothing that append() returned for, and no sequence number is ever delivered with two different contents.

    q = Queue("/q", 32768)
    seq = q.append(report)          # durable when it returns; seq is the report's counter on the wire
    for seq, rec in q.peek(8): ...  # oldest first, a run of consecutive seqs
    q.ack(last_seq_the_collector_stored)
    q.stats()                       # {"depth", "bytes", "dropped", ...}

Layout in ``dir``: segment files ``<first seq, 8 hex>.q`` holding frames, and ``state`` (acked seq, dropped count)
replaced by write-then-rename (store.atomic). A frame is
    0xA5 | length (2) | seq (4) | CRC-32 of length, seq and record (4) | record
Each append opens the tail segment, writes one frame and closes it: littlefs commits a file's new size
atomically at close (littlefs DESIGN.md, "metadata pairs" and copy-on-write data), so a cut leaves the old file.
On a filesystem that tears writes, the CRC finds the torn tail and boot recovery rewrites the segment's good prefix
to a temporary file and renames it over the segment: segments are replaced only by write-then-rename.

Ack and drop move the cursor first (persisted), then delete segments whose records are all at or below it; a cut
between the two leaves segments that the next boot deletes. When an append would pass ``max_bytes`` the oldest
segment is dropped (cursor moved past it, count added to ``dropped``, persisted before the delete).

Boot recovery reads the state file, lists the directory and scans only the tail segment: bounded by seg_bytes,
not by how much is queued.
"""

import os
import struct
from micropython import const

from store import atomic
from store.atomic import crc32

_MAGIC = const(0xA5)
_HDR = const(11)
MAX_RECORD = const(512)
_SUFFIX = ".q"


class Queue:
    def __init__(self, dir, max_bytes=32768, seg_bytes=0):
        self.dir = dir.rstrip("/") or "/"
        self.max_bytes = max_bytes
        self.seg_bytes = seg_bytes or max(512, max_bytes // 8)
        if self.max_bytes < 2 * (_HDR + MAX_RECORD) or self.seg_bytes > self.max_bytes // 2:
            raise ValueError("queue too small: max_bytes %d, segments of %d" % (max_bytes, self.seg_bytes))
        self._hdr = bytearray(_HDR)
        self._hdr_crc_part = memoryview(self._hdr)[1:7]  # length and seq: covered by the CRC with the record
        self.corrupt = 0
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        self._recover()

    # --- paths and state ---------------------------------------------------------------------------------------
    def _path(self, first):
        return "%s/%08x%s" % (self.dir, first, _SUFFIX)

    def _load_state(self):
        raw = atomic.read(self.dir + "/state")
        if raw is not None and len(raw) == 8:
            self.acked, self.dropped = struct.unpack(">II", raw)
        else:  # never written (or unreadable): re-delivering acked records is safe, the collector de-duplicates
            self.acked, self.dropped = 0, 0

    def _save_state(self):
        atomic.write(self.dir + "/state", struct.pack(">II", self.acked, self.dropped))

    def _recover(self):
        self._load_state()
        segs = []
        for name in os.listdir(self.dir):
            if name.endswith(".tmp"):
                if name != "state.tmp":  # a segment rewrite cut short: the segment itself is intact
                    atomic.remove(self.dir + "/" + name)
                continue
            if not name.endswith(_SUFFIX) or len(name) != 8 + len(_SUFFIX):
                continue
            try:
                segs.append(int(name[:8], 16))
            except ValueError:
                continue
        segs.sort()
        # Segments whose every record is acked (the successor starts at or below acked + 1): finish the delete.
        while len(segs) > 1 and segs[1] <= self.acked + 1:
            atomic.remove(self._path(segs.pop(0)))
        last = self.acked
        while segs:
            tail = segs[-1]
            good, top = self._scan_tail(tail)
            if good == 0:
                atomic.remove(self._path(tail))
                segs.pop()
                continue
            if top > last:
                last = top
            break
        if segs and last <= self.acked:  # everything left is acked
            for s in segs:
                atomic.remove(self._path(s))
            segs = []
        self.segs = segs
        self.next_seq = last + 1
        self.bytes = 0
        self._tail_bytes = 0
        self._tail_path = None
        for s in segs:
            self._tail_bytes = os.stat(self._path(s))[6]
            self.bytes += self._tail_bytes
        if segs:
            self._tail_path = self._path(segs[-1])

    def _scan_tail(self, first):
        """Validate the tail segment; rewrite its good prefix if something after it is torn.
        Returns (good bytes, last good seq)."""
        path = self._path(first)
        good = 0
        top = 0
        expect = first
        with open(path, "rb") as f:
            data = f.read()
        n = len(data)
        while good + _HDR <= n:
            magic, ln, seq, crc = struct.unpack_from(">BHII", data, good)
            end = good + _HDR + ln
            if magic != _MAGIC or ln > MAX_RECORD or end > n:
                break
            if crc32(memoryview(data)[good + _HDR:end], crc32(memoryview(data)[good + 1:good + 7])) \
                    & 0xFFFFFFFF != crc:
                if end == n:
                    break  # the last frame torn mid-write (a filesystem without atomic writes): cut it off
                self.corrupt += 1  # rot inside an earlier frame: keep the frames after it
                expect += 1
                good = end
                continue
            if seq != expect:
                break
            top = seq
            expect = seq + 1
            good = end
        if 0 < good < n:
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(memoryview(data)[:good])
            os.rename(tmp, path)
        return good, top

    # --- the API ----------------------------------------------------------------------------------------------
    def append(self, record):
        """Store ``record`` (bytes); returns its sequence number once it is durable."""
        ln = len(record)
        if ln == 0 or ln > MAX_RECORD:
            raise ValueError("record of %d bytes: 1..%d allowed" % (ln, MAX_RECORD))
        size = _HDR + ln
        while self.segs and self.bytes + size > self.max_bytes:
            self._drop_oldest()
        seq = self.next_seq
        if seq > 0xFFFFFFFF:
            raise OverflowError("queue sequence exhausted")
        if not self.segs or self._tail_bytes + size > self.seg_bytes:
            self.segs.append(seq)
            self._tail_path = self._path(seq)
            self._tail_bytes = 0
        h = self._hdr
        struct.pack_into(">BHI", h, 0, _MAGIC, ln, seq)
        struct.pack_into(">I", h, 7, crc32(record, crc32(self._hdr_crc_part)) & 0xFFFFFFFF)
        with open(self._tail_path, "ab") as f:  # one frame; the close commits it (see the module docstring)
            f.write(h)
            f.write(record)
        self.next_seq = seq + 1
        self.bytes += size
        self._tail_bytes += size
        return seq

    def _drop_oldest(self):
        last = self.segs[1] - 1 if len(self.segs) > 1 else self.next_seq - 1
        if last > self.acked:
            self.dropped += last - self.acked
            self.acked = last
            self._save_state()
        self._delete_seg(0)

    def _delete_seg(self, i):
        p = self._path(self.segs[i])
        try:
            self.bytes -= os.stat(p)[6]
        except OSError:
            pass
        atomic.remove(p)
        self.segs.pop(i)
        if not self.segs:
            self._tail_path = None
            self._tail_bytes = 0

    def peek(self, n):
        """Up to ``n`` unacknowledged (seq, record) pairs, oldest first, consecutive seqs."""
        out = []
        want = self.acked + 1
        h = self._hdr
        for i in range(len(self.segs)):
            if len(out) >= n:
                break
            if i + 1 < len(self.segs) and self.segs[i + 1] <= want:
                continue  # all of this segment is acked
            with open(self._path(self.segs[i]), "rb") as f:
                while len(out) < n:
                    if f.readinto(h) != _HDR:
                        break
                    magic, ln, seq, crc = struct.unpack_from(">BHII", h, 0)
                    if magic != _MAGIC or ln > MAX_RECORD:
                        self.corrupt += 1
                        break
                    rec = f.read(ln)
                    if len(rec) != ln:
                        break
                    if crc32(rec, crc32(self._hdr_crc_part)) & 0xFFFFFFFF != crc:
                        self.corrupt += 1  # rot inside a record: its length still frames it, skip just this one
                        continue
                    if seq < want:
                        continue
                    if out and seq != out[-1][0] + 1:
                        return out
                    out.append((seq, rec))
                    want = seq + 1
        return out

    def ack(self, upto):
        """The collector has stored everything up to ``upto``: move the cursor, then free whole segments."""
        top = self.next_seq - 1
        if upto > top:
            upto = top
        if upto <= self.acked:
            return
        self.acked = upto
        self._save_state()
        while self.segs:
            nxt = self.segs[1] if len(self.segs) > 1 else self.next_seq
            if nxt - 1 > self.acked:
                break
            self._delete_seg(0)

    def skip_to(self, seq):
        """Number the next record above ``seq``. For a device provisioned again under its old identity after its
        flash was erased: its counters continue above the last one the collector stored, which would otherwise
        refuse them as too old for ever. Never moves backwards, and only an empty queue skips (queued records
        keep their numbers). Returns whether it moved."""
        if seq < self.next_seq or self.segs:
            return False
        self.acked = seq
        self.next_seq = seq + 1
        self._save_state()
        return True

    def stats(self):
        return {"depth": self.next_seq - 1 - self.acked, "bytes": self.bytes, "dropped": self.dropped,
                "segments": len(self.segs), "acked": self.acked, "next": self.next_seq, "corrupt": self.corrupt}
