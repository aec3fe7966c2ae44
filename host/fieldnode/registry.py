"""The device registry: each device's id, key and facts (ICCID, IMSI, board, ...), with a history of who changed
what and when. SQLite under $FIELDNODE_HOME (``registry.sqlite``); the collector reads keys from it, provisioning
writes to it.

    reg = Registry()                                   # $FIELDNODE_HOME/registry.sqlite
    dev = reg.add_device(42, board="m5stack-core2")    # a fresh 16-byte key unless one is given
    reg.set_facts(42, iccid="8981...", who="tech-7")
    reg.get(42).key                                    # bytes
    reg.history(42)                                    # [{"at", "who", "device_id", "action", "change"}, ...]

Device ids are the 32-bit unsigned integers that go on the wire (proto.codec); ``parse_device_id`` accepts
``42``, ``"42"`` or ``"0x2a"``. Keys never appear in the history, only that one was set or rotated.
"""

import getpass
import json
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, UsageError
from .paths import home

KEY_BYTES = 16
MAX_DEVICE_ID = 0xFFFFFFFF

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    facts TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    who TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    change TEXT NOT NULL
);
"""


class UnknownDevice(UsageError):
    pass


@dataclass
class Device:
    device_id: int
    key: bytes
    facts: dict = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0

    def public(self) -> dict:
        """Everything but the key, for listings and JSON output."""
        return {"device_id": self.device_id, "facts": self.facts, "created": self.created, "updated": self.updated}


def parse_device_id(value) -> int:
    """An int from 42, "42" or "0x2a"; a UsageError that says the allowed range otherwise."""
    try:
        n = value if isinstance(value, int) else int(str(value).strip(), 0)
    except ValueError:
        raise UsageError(f"device id {value!r} is not a number", "give a decimal or 0x-hex id, e.g. 42 or 0x2a")
    if not 0 <= n <= MAX_DEVICE_ID:
        raise UsageError(f"device id {n} out of range", f"ids are 0..{MAX_DEVICE_ID} (32 bits on the wire)")
    return n


def parse_key(value) -> bytes:
    """Key bytes from bytes or a hex string; at least 16 bytes (proto.auth.MIN_KEY)."""
    if isinstance(value, (bytes, bytearray)):
        key = bytes(value)
    else:
        try:
            key = bytes.fromhex(str(value).strip())
        except ValueError:
            raise UsageError("device key is not hex", "give the key as 32 hex digits (16 bytes)")
    if len(key) < KEY_BYTES:
        raise UsageError(f"device key of {len(key)} bytes is too short", f"use at least {KEY_BYTES} bytes")
    return key


def default_who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Registry:
    def __init__(self, path=None):
        self.path = Path(path) if path else home() / "registry.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"device registry {self.path} is unreadable: {e}",
                              "move the file away and provision the devices again, or restore a backup")

    def close(self):
        self._db.close()

    def _log(self, device_id, action, change, who):
        self._db.execute("INSERT INTO history (at, who, device_id, action, change) VALUES (?,?,?,?,?)",
                         (time.time(), who or default_who(), device_id, action, json.dumps(change, sort_keys=True)))

    def add_device(self, device_id, key=None, *, who=None, **facts) -> Device:
        """Register a device; a random 16-byte key when ``key`` is None. Refuses an id already registered."""
        device_id = parse_device_id(device_id)
        key = parse_key(key) if key is not None else os.urandom(KEY_BYTES)
        now = time.time()
        with self._lock, self._db:
            try:
                self._db.execute("INSERT INTO devices VALUES (?,?,?,?,?)",
                                 (device_id, key, json.dumps(facts, sort_keys=True), now, now))
            except sqlite3.IntegrityError:
                raise UsageError(f"device {device_id} is already registered",
                                 "use set_facts/set_key to change it, or remove it first")
            self._log(device_id, "add", {"facts": facts, "key": "set"}, who)
        return Device(device_id, key, dict(facts), now, now)

    def find(self, device_id):
        """The Device, or None."""
        with self._lock:
            row = self._db.execute("SELECT device_id, key, facts, created, updated FROM devices WHERE device_id=?",
                                   (parse_device_id(device_id),)).fetchone()
        if row is None:
            return None
        return Device(row[0], bytes(row[1]), json.loads(row[2]), row[3], row[4])

    def get(self, device_id) -> Device:
        dev = self.find(device_id)
        if dev is None:
            raise UnknownDevice(f"device {device_id} is not in the registry {self.path}",
                                "provision it first (or point --registry at the right file)")
        return dev

    def key_for(self, device_id: int):
        """The key bytes, or None for an unknown device (the collector's hot path)."""
        with self._lock:
            row = self._db.execute("SELECT key FROM devices WHERE device_id=?", (device_id,)).fetchone()
        return bytes(row[0]) if row else None

    def set_facts(self, device_id, *, who=None, **facts) -> Device:
        """Merge ``facts`` into the device's facts (a value of None removes that fact); history keeps old and new."""
        dev = self.get(device_id)
        new = dict(dev.facts)
        change = {}
        for k, v in facts.items():
            old = new.get(k)
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
            if old != v:
                change[k] = [old, v]
        if change:
            with self._lock, self._db:
                self._db.execute("UPDATE devices SET facts=?, updated=? WHERE device_id=?",
                                 (json.dumps(new, sort_keys=True), time.time(), dev.device_id))
                self._log(dev.device_id, "set_facts", change, who)
        return self.get(dev.device_id)

    def set_key(self, device_id, key=None, *, who=None) -> Device:
        """Rotate the key (random when None). The history says that it changed, never what it is."""
        dev = self.get(device_id)
        key = parse_key(key) if key is not None else os.urandom(KEY_BYTES)
        with self._lock, self._db:
            self._db.execute("UPDATE devices SET key=?, updated=? WHERE device_id=?", (key, time.time(), dev.device_id))
            self._log(dev.device_id, "set_key", {"key": "rotated"}, who)
        return self.get(dev.device_id)

    def remove(self, device_id, *, who=None) -> None:
        dev = self.get(device_id)
        with self._lock, self._db:
            self._db.execute("DELETE FROM devices WHERE device_id=?", (dev.device_id,))
            self._log(dev.device_id, "remove", {"facts": dev.facts}, who)

    def devices(self) -> list:
        with self._lock:
            rows = self._db.execute("SELECT device_id, key, facts, created, updated FROM devices "
                                    "ORDER BY device_id").fetchall()
        return [Device(r[0], bytes(r[1]), json.loads(r[2]), r[3], r[4]) for r in rows]

    def history(self, device_id=None) -> list:
        q = "SELECT at, who, device_id, action, change FROM history"
        args = ()
        if device_id is not None:
            q += " WHERE device_id=?"
            args = (parse_device_id(device_id),)
        with self._lock:
            rows = self._db.execute(q + " ORDER BY id", args).fetchall()
        return [{"at": r[0], "who": r[1], "device_id": r[2], "action": r[3], "change": json.loads(r[4])} for r in rows]
