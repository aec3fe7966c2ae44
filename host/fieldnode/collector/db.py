"""The collector's SQLite store: reports (one row per device and counter), per-device state, downlink commands,
and reject counters. One connection shared by the server threads behind a lock; each uplink is one transaction."""

import json
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import ConfigError

_SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS reports (
    device_id INTEGER NOT NULL,
    counter INTEGER NOT NULL,
    received REAL NOT NULL,
    source TEXT NOT NULL,
    ts INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    fields TEXT NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (device_id, counter)
);
CREATE TABLE IF NOT EXISTS devices (
    device_id INTEGER PRIMARY KEY,
    last_counter INTEGER NOT NULL,
    last_seen REAL NOT NULL,
    last_source TEXT NOT NULL,
    reports INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    gaps INTEGER NOT NULL DEFAULT 0,
    alarms INTEGER NOT NULL DEFAULT 0,
    last_alarm REAL
);
CREATE TABLE IF NOT EXISTS commands (
    device_id INTEGER NOT NULL,
    cmd_id INTEGER NOT NULL,
    op INTEGER NOT NULL,
    key INTEGER NOT NULL,
    value INTEGER NOT NULL,
    queued REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    acked REAL,
    PRIMARY KEY (device_id, cmd_id)
);
CREATE TABLE IF NOT EXISTS rejects (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reject_log (
    at REAL NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
REJECT_LOG_KEEP = 1000


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False)
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"collector database {self.path} is unreadable: {e}",
                              "point --db at another file; keep this one for recovery")

    def close(self):
        with self.lock:
            self.db.close()

    def device(self, device_id):
        r = self.db.execute("SELECT last_counter, duplicates FROM devices WHERE device_id=?", (device_id,)).fetchone()
        return r

    def stored_raw(self, device_id, counter):
        r = self.db.execute("SELECT raw FROM reports WHERE device_id=? AND counter=?", (device_id, counter)).fetchone()
        return bytes(r[0]) if r else None

    def count_reject(self, reason, source, detail):
        with self.lock, self.db:
            self.db.execute("INSERT INTO rejects VALUES (?, 1) ON CONFLICT(reason) DO UPDATE SET count=count+1",
                            (reason,))
            cur = self.db.execute("INSERT INTO reject_log VALUES (?,?,?,?)", (time.time(), source, reason, detail))
            if cur.lastrowid and cur.lastrowid % 100 == 0:
                self.db.execute("DELETE FROM reject_log WHERE rowid <= ?", (cur.lastrowid - REJECT_LOG_KEEP,))

    def rejects(self) -> dict:
        with self.lock:
            return dict(self.db.execute("SELECT reason, count FROM rejects ORDER BY reason").fetchall())

    def reports(self, device_id=None, since=0):
        q = "SELECT received, source, fields FROM reports WHERE counter > ?"
        args = [since]
        if device_id is not None:
            q += " AND device_id = ?"
            args.append(device_id)
        with self.lock:
            rows = self.db.execute(q + " ORDER BY device_id, counter", args).fetchall()
        for received, source, fields in rows:
            d = json.loads(fields)
            d["received"] = received
            d["source"] = source
            yield d

    def devices(self) -> list:
        with self.lock:
            rows = self.db.execute("SELECT device_id, last_counter, last_seen, last_source, reports, duplicates, gaps, "
                                   "alarms, last_alarm FROM devices ORDER BY device_id").fetchall()
        keys = ("device_id", "last_counter", "last_seen", "last_source", "reports", "duplicates", "gaps", "alarms",
                "last_alarm")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # --- commands ---
    def queue_command(self, device_id, op, key, value) -> int:
        with self.lock, self.db:
            r = self.db.execute("SELECT MAX(cmd_id) FROM commands WHERE device_id=?", (device_id,)).fetchone()
            cid = (r[0] or 0) + 1
            if cid > 0xFFFF:
                raise ValueError("command ids exhausted for this device (65535)")
            self.db.execute("INSERT INTO commands (device_id, cmd_id, op, key, value, queued) VALUES (?,?,?,?,?,?)",
                            (device_id, cid, op, key, value, time.time()))
        return cid

    def pending_commands(self, device_id, limit):
        return self.db.execute("SELECT cmd_id, op, key, value FROM commands WHERE device_id=? AND acked IS NULL "
                               "ORDER BY cmd_id LIMIT ?", (device_id, limit)).fetchall()

    def commands(self, device_id=None) -> list:
        q = "SELECT device_id, cmd_id, op, key, value, queued, sent, acked FROM commands"
        args = ()
        if device_id is not None:
            q += " WHERE device_id=?"
            args = (device_id,)
        keys = ("device_id", "cmd_id", "op", "key", "value", "queued", "sent", "acked")
        with self.lock:
            return [dict(zip(keys, r, strict=True)) for r in self.db.execute(q + " ORDER BY device_id, cmd_id", args)]
