"""A monotonic counter persisted before use: no value is handed out twice, across resets and power cuts.

To spare the flash one write per value, the counter reserves a block: it persists ``hi = value + reserve`` first
and then hands out values up to ``hi`` from RAM. After a reset it starts again at the persisted ``hi``, skipping
whatever of the block was unused (the LoRaWAN practice of persisting frame counters in steps). Set reserve=1 to
write on every value.
"""

import struct

from store import atomic


class Counter:
    def __init__(self, path, reserve=16):
        if reserve < 1:
            raise ValueError("reserve must be at least 1")
        self.path = path
        self.reserve = reserve
        raw = atomic.read(path)
        self._hi = struct.unpack(">I", raw)[0] if raw is not None and len(raw) == 4 else 0
        self._next = self._hi  # a fresh boot never reuses anything below the persisted mark

    def next(self):
        v = self._next + 1
        if v > self._hi:
            hi = v + self.reserve - 1
            if hi > 0xFFFFFFFF:
                raise OverflowError("counter exhausted: re-provision the device with a new key")
            atomic.write(self.path, struct.pack(">I", hi))
            self._hi = hi
        self._next = v
        return v

    def peek(self):
        """The last value handed out (0 before the first)."""
        return self._next
