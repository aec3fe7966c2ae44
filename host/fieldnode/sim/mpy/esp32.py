# esp32 for the virtual board: the ESP32 port's esp32 module (docs.micropython.org, "esp32 - functionality
# specific to the ESP32": Partition, NVS, wake_on_*), on the simulator's flash image over the hardware bus.
# Partition is a block device with the extended interface (library/vfs.rst "Block devices"): readblocks and
# writeblocks take an optional byte offset; writeblocks without one erases first; ioctl 6 erases one block.
import _hwbus
import json
import struct

WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True
HEAP_DATA = 4
HEAP_EXEC = 1

_wake = {"ext0": None, "ext1": None}


def _conf():
    _hwbus.call(_hwbus.WAKE_CONF, json.dumps(_wake).encode())


def _pin_no(p):
    return p if isinstance(p, int) else p.id


def wake_on_ext0(pin, level):
    _wake["ext0"] = None if pin is None else [_pin_no(pin), 1 if level else 0]
    _conf()


def wake_on_ext1(pins, level):
    _wake["ext1"] = None if not pins else [[_pin_no(p) for p in pins], 1 if level else 0]
    _conf()


def wake_on_touch(wake):
    pass


def wake_on_ulp(wake):
    pass


def gpio_deep_sleep_hold(enable):
    pass


def raw_temperature():
    return 128  # about 53 C in the ESP32's uncalibrated Fahrenheit-ish units


def mcu_temperature():
    return 40


def idf_heap_info(capabilities):
    import gc

    free = gc.mem_free()
    return [(free + gc.mem_alloc(), free, free, free)]


_SECTOR = 4096

# Reads go straight to the flash image file, opened before littlefs is mounted at "/" (the simulator passes its
# path): littlefs reads in small pieces, tens of thousands per wake, and one hardware-bus round trip each made a
# wake cycle cost most of a second. Writes and erases still go through the bus, where the simulator applies NOR
# semantics and can cut the power in the middle of one; the host flushes the file after each of them.
_flash = None
try:
    import os as _os

    _fp = _os.getenv("FIELDNODE_FLASH")
    if _fp:
        _flash = open(_fp, "rb")
    del _os, _fp
except OSError:
    _flash = None


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    _table = None

    @classmethod
    def _parts(cls):
        if cls._table is None:
            cls._table = json.loads(_hwbus.call(_hwbus.PARTITIONS))
        return cls._table

    def __init__(self, id, block_size=4096):
        if id == Partition.BOOT or id == Partition.RUNNING:
            ota = json.loads(_hwbus.call(_hwbus.OTA_BOOT))
            id = ota["boot" if id == Partition.BOOT else "running"]
        for p in Partition._parts():
            if p[0] == id:
                self._p = p
                break
        else:
            raise ValueError("partition not found")
        if block_size < 1 or block_size & (block_size - 1):
            raise ValueError("invalid block size")
        self._bs = block_size

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=4096):
        out = []
        for p in Partition._parts():
            if p[1] == type and (subtype == 0xFF or p[2] == subtype) and (label is None or p[0] == label):
                out.append(Partition(p[0], block_size))
        return out

    def info(self):
        p = self._p
        return (p[1], p[2], p[3], p[4], p[0], False)

    def __repr__(self):
        p = self._p
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=0>" % (
            p[1], p[2], p[3], p[4], p[0])

    def _addr(self, block_num, offset, n):
        a = block_num * self._bs + offset
        if a < 0 or a + n > self._p[4]:
            raise OSError(22)  # EINVAL: past the end of the partition
        return self._p[3] + a

    def readblocks(self, block_num, buf, offset=0):
        if _flash is not None:
            # littlefs reads a cycle's imports in some 13,000 calls of ~80 bytes: _addr inlined
            p = self._p
            a = block_num * self._bs + offset
            if a < 0 or a + len(buf) > p[4]:
                raise OSError(22)
            _flash.seek(p[3] + a)
            _flash.readinto(buf)
            return
        addr = self._addr(block_num, offset, len(buf))
        mv = memoryview(buf)
        pos = 0
        while pos < len(buf):
            n = min(4096, len(buf) - pos)
            mv[pos: pos + n] = _hwbus.call(_hwbus.FLASH_READ, struct.pack(">IH", addr + pos, n))
            pos += n

    def writeblocks(self, block_num, buf, offset=None):
        addr = self._addr(block_num, offset or 0, len(buf))
        if offset is None:
            # Plain interface: erase the blocks written, then program (esp_partition_erase_range + write).
            n = (len(buf) + _SECTOR - 1) // _SECTOR * _SECTOR
            _hwbus.call(_hwbus.FLASH_ERASE, struct.pack(">II", addr, n))
        mv = memoryview(buf)
        pos = 0
        while pos < len(buf):
            n = min(4096, len(buf) - pos)
            _hwbus.call(_hwbus.FLASH_PROGRAM, struct.pack(">I", addr + pos) + bytes(mv[pos: pos + n]))
            pos += n

    def ioctl(self, cmd, arg):
        if cmd == 4:  # block count
            return self._p[4] // self._bs
        if cmd == 5:  # block size
            return self._bs
        if cmd == 6:  # erase one block
            _hwbus.call(_hwbus.FLASH_ERASE, struct.pack(">II", self._addr(arg, 0, self._bs), self._bs))
            return 0
        return None

    def set_boot(self):
        _hwbus.call(_hwbus.OTA_BOOT, self._p[0].encode())

    def get_next_update(self):
        # esp_ota_get_next_update_partition: the OTA app slot after the running one.
        apps = [p for p in Partition._parts() if p[1] == 0 and 0x10 <= p[2] < 0x20]
        if not apps:
            raise OSError(2)  # ENOENT: this partition table has no OTA slots
        labels = [p[0] for p in apps]
        cur = self._p[0]
        i = (labels.index(cur) + 1) % len(labels) if cur in labels else 0
        return Partition(labels[i])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        err = _hwbus.call(_hwbus.OTA_VALID)
        if err:
            raise OSError(int(err))


# NVS: key/value pairs per namespace. Writes are staged until commit(), as the port documents.
_NVS_NOT_FOUND = -0x1102  # ESP_ERR_NVS_NOT_FOUND
_NVS_TYPE_MISMATCH = -0x1104  # ESP_ERR_NVS_TYPE_MISMATCH
_NVS_KEY_TOO_LONG = -0x1109  # ESP_ERR_NVS_KEY_TOO_LONG (keys are at most 15 characters)
_NVS_INVALID_LENGTH = -0x110C  # ESP_ERR_NVS_INVALID_LENGTH


class NVS:
    def __init__(self, namespace):
        if not 0 < len(namespace) <= 15:
            raise OSError(_NVS_KEY_TOO_LONG)
        self._ns = namespace
        self._data = json.loads(_hwbus.call(_hwbus.NVS_LOAD, namespace.encode()))

    @staticmethod
    def _key(key):
        if not 0 < len(key) <= 15:
            raise OSError(_NVS_KEY_TOO_LONG)
        return key

    def _get(self, key, kind):
        v = self._data.get(self._key(key))
        if v is None:
            raise OSError(_NVS_NOT_FOUND)
        if v[0] != kind:
            raise OSError(_NVS_TYPE_MISMATCH)
        return v[1]

    def set_i32(self, key, value):
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise OverflowError("overflow converting long int to machine word")
        self._data[self._key(key)] = ["i32", value]

    def get_i32(self, key):
        return self._get(key, "i32")

    def set_blob(self, key, value):
        self._data[self._key(key)] = ["blob", bytes(value).hex()]

    def get_blob(self, key, buffer):
        data = bytes.fromhex(self._get(key, "blob"))
        if len(buffer) < len(data):
            raise OSError(_NVS_INVALID_LENGTH)
        buffer[: len(data)] = data
        return len(data)

    def erase_key(self, key):
        if self._data.pop(self._key(key), None) is None:
            raise OSError(_NVS_NOT_FOUND)

    def commit(self):
        _hwbus.call(_hwbus.NVS_STORE, json.dumps({"ns": self._ns, "data": self._data}).encode())
