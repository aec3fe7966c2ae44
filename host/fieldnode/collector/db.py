"""The collector's SQLite store, and the only place its SQL is written: reports (one row per device and counter),
per-device state, downlink commands, reject counters, the log of app updates, and the tamper-evident ledger of the
stored reports (collector/ledger.py: its leaves, the datagrams they came in, the tree's frontier, signed checkpoints).

``Store`` is the collector's own: one connection shared by the server threads behind a lock, each uplink one
transaction. It keeps no clock: every time it writes (received, queued, acked, a refusal's or an update status's
time) is given by the caller, the ``Collector``, from its injected clock, so that a fleet on virtual time stores
virtual times. ``Reader`` is the same database seen read-only from another process (``fieldnode provision`` reads
the last counter of a device, ``fieldnode monitor`` follows new reports) while the collector writes it.
"""

import json
import sqlite3
import threading
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
CREATE TABLE IF NOT EXISTS update_log (
    device_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    at REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_uplinks (
    uplink_id INTEGER PRIMARY KEY,
    datagram BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_leaves (
    idx INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL,
    counter INTEGER NOT NULL,
    uplink_id INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    tree_size INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    root BLOB NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_state (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL
);
"""
# The console's (console.py) partial index: reports that carry an event flag (alarm, boot, sensor error: the low
# six bits), by receive time, so the fleet's events are found without reading every report.
_CONSOLE_SCHEMA = """
CREATE INDEX IF NOT EXISTS reports_events ON reports(received) WHERE flags & 63 != 0;
"""
EVENT_FLAGS = 63
_DEVICE_KEYS = ("device_id", "last_counter", "last_seen", "last_source", "reports", "duplicates", "gaps", "alarms",
                "last_alarm")
REJECT_LOG_KEEP = 1000


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        # callables(device_id, [(counter, raw, fields JSON text)], at, datagram) run inside an uplink's transaction,
        # after its other writes: what they write commits with the reports, what they raise rolls all back
        self.insert_hooks = []
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False)
            self.db.executescript(_SCHEMA)
            self.db.executescript(_CONSOLE_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"collector database {self.path} is unreadable: {e}",
                              "point --db at another file; keep this one for recovery")

    def close(self):
        with self.lock:
            self.db.close()

    # --- uplinks (Collector._accept holds ``lock`` around the reads and the write of one uplink) ---
    def device(self, device_id):
        """(last counter, duplicates) of a device seen before, or None."""
        return self.db.execute("SELECT last_counter, duplicates FROM devices WHERE device_id=?",
                               (device_id,)).fetchone()

    def stored_raw(self, device_id, counter):
        r = self.db.execute("SELECT raw FROM reports WHERE device_id=? AND counter=?", (device_id, counter)).fetchone()
        return bytes(r[0]) if r else None

    def store_uplink(self, device_id, rows, *, at, source, top, duplicates, gaps, alarms, cmd_ack, max_cmds,
                     datagram=b""):
        """One accepted uplink, in one transaction: its new reports (``rows``: (counter, ts, flags, fields dict,
        raw bytes)), the device's state (``top`` its highest counter now), the commands it acknowledged (``cmd_ack``
        the highest acknowledged id, or None); the commands still pending (at most ``max_cmds``: (cmd_id, op, key,
        value)) are counted as sent once more and returned, for the reply. ``datagram``: the uplink as it came, for
        the insert hooks (the ledger)."""
        with self.lock, self.db:
            texts = []
            for ctr, ts, flags, fields, raw in rows:
                text = json.dumps(fields)
                texts.append((ctr, raw, text))
                self.db.execute("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?)",
                                (device_id, ctr, at, source, ts, flags, text, raw))
            self.db.execute(
                "INSERT INTO devices (device_id, last_counter, last_seen, last_source, reports, duplicates, gaps,"
                " alarms, last_alarm) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE SET "
                "last_counter=excluded.last_counter, last_seen=excluded.last_seen, "
                "last_source=excluded.last_source, reports=reports+excluded.reports, "
                "duplicates=duplicates+excluded.duplicates, gaps=gaps+excluded.gaps, "
                "alarms=alarms+excluded.alarms, last_alarm=COALESCE(excluded.last_alarm, last_alarm)",
                (device_id, top, at, source, len(rows), duplicates, gaps, alarms, at if alarms else None))
            if cmd_ack is not None:
                self.db.execute("UPDATE commands SET acked=? WHERE device_id=? AND cmd_id<=? AND acked IS NULL",
                                (at, device_id, cmd_ack))
            pending = self.pending_commands(device_id, max_cmds)
            if pending:
                self.db.execute(f"UPDATE commands SET sent=sent+1 WHERE device_id=? AND cmd_id IN "
                                f"({','.join('?' * len(pending))})", (device_id, *[p[0] for p in pending]))
            for fn in self.insert_hooks if texts else ():
                fn(device_id, texts, at, datagram)
        return pending

    def count_reject(self, reason, source, detail, at):
        with self.lock, self.db:
            self.db.execute("INSERT INTO rejects VALUES (?, 1) ON CONFLICT(reason) DO UPDATE SET count=count+1",
                            (reason,))
            cur = self.db.execute("INSERT INTO reject_log VALUES (?,?,?,?)", (at, source, reason, detail))
            if cur.lastrowid and cur.lastrowid % 100 == 0:
                self.db.execute("DELETE FROM reject_log WHERE rowid <= ?", (cur.lastrowid - REJECT_LOG_KEEP,))

    # --- views ---
    def rejects(self) -> dict:
        with self.lock:
            return dict(self.db.execute("SELECT reason, count FROM rejects ORDER BY reason").fetchall())

    def reject_log(self) -> list:
        """The latest refusals (up to about REJECT_LOG_KEEP), oldest first: {"at", "source", "reason", "detail"}."""
        with self.lock:
            rows = self.db.execute("SELECT at, source, reason, detail FROM reject_log ORDER BY rowid").fetchall()
        return [dict(zip(("at", "source", "reason", "detail"), r, strict=True)) for r in rows]

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

    def devices(self, last_report=False, device_id=None) -> list:
        """Every device's state (``_DEVICE_KEYS``), or only ``device_id``'s; with ``last_report`` also its latest
        report, decoded."""
        where = "" if device_id is None else " WHERE device_id=?"
        with self.lock:
            rows = self.db.execute(f"SELECT {', '.join(_DEVICE_KEYS)} FROM devices{where} ORDER BY device_id",
                                   () if device_id is None else (device_id,)).fetchall()
            devs = [dict(zip(_DEVICE_KEYS, r, strict=True)) for r in rows]
            for d in devs if last_report else ():
                r = self.db.execute("SELECT fields FROM reports WHERE device_id=? ORDER BY counter DESC LIMIT 1",
                                    (d["device_id"],)).fetchone()
                d["last_report"] = json.loads(r[0]) if r else None
        return devs

    # --- commands ---
    def queue_command(self, device_id, op, key, value, at) -> int:
        with self.lock, self.db:
            r = self.db.execute("SELECT MAX(cmd_id) FROM commands WHERE device_id=?", (device_id,)).fetchone()
            cid = (r[0] or 0) + 1
            if cid > 0xFFFF:
                raise ValueError("command ids exhausted for this device (65535)")
            self.db.execute("INSERT INTO commands (device_id, cmd_id, op, key, value, queued) VALUES (?,?,?,?,?,?)",
                            (device_id, cid, op, key, value, at))
        return cid

    def pending_commands(self, device_id, limit):
        with self.lock:
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

    # --- app updates (updates.py) ---
    def log_update(self, device_id, version, status, detail, at, source) -> None:
        with self.lock, self.db:
            self.db.execute("INSERT INTO update_log VALUES (?,?,?,?,?,?)",
                            (device_id, version, status, detail, at, source))

    def update_log(self, device_id=None) -> list:
        """(device_id, version, status, detail, at, source) rows, in the order they were recorded."""
        q = "SELECT device_id, version, status, detail, at, source FROM update_log"
        args = ()
        if device_id is not None:
            q += " WHERE device_id=?"
            args = (device_id,)
        with self.lock:
            return self.db.execute(q + " ORDER BY rowid", args).fetchall()

    # --- the console (console.py) ---
    def console_devices(self, recent=8, device_id=None) -> list:
        """Every device's state (or only ``device_id``'s) with its latest report, its latest report carrying a
        health block, and the receive times of its last ``recent`` reports (newest first; the console estimates
        the reporting interval from them)."""
        out = self.devices(last_report=True, device_id=device_id)
        with self.lock:
            for d in out:
                r = self.db.execute("SELECT fields FROM reports WHERE device_id=? AND flags & 128 "
                                    "ORDER BY counter DESC LIMIT 1", (d["device_id"],)).fetchone()
                d["last_health"] = json.loads(r[0]).get("health") if r else None
                d["recent"] = [x[0] for x in self.db.execute(
                    "SELECT received FROM reports WHERE device_id=? ORDER BY counter DESC LIMIT ?",
                    (d["device_id"], recent))]
        return out

    def series(self, device_id, since) -> list:
        """A device's reports received at or after ``since``, oldest first: (counter, received, flags, fields)."""
        with self.lock:
            rows = self.db.execute("SELECT counter, received, flags, fields FROM reports WHERE device_id=? AND "
                                   "received >= ? ORDER BY counter", (device_id, since)).fetchall()
        return [(c, rec, fl, json.loads(f)) for c, rec, fl, f in rows]

    def event_reports(self, since, limit, device_id=None) -> list:
        """Reports with an event flag (EVENT_FLAGS) received at or after ``since``, newest first, at most
        ``limit``; each with the counter and receive time of the device's next report without one (None while
        none came): (device_id, counter, received, flags, fields, next_clear)."""
        q = "SELECT device_id, counter, received, flags, fields FROM reports WHERE flags & 63 != 0 AND received >= ?"
        args = [since]
        if device_id is not None:
            q += " AND device_id = ?"
            args.append(device_id)
        with self.lock:
            rows = self.db.execute(q + " ORDER BY received DESC LIMIT ?", (*args, limit)).fetchall()
            out = []
            for dev, ctr, rec, fl, f in rows:
                nxt = self.db.execute("SELECT counter, received FROM reports WHERE device_id=? AND counter > ? "
                                      "AND flags & 63 = 0 ORDER BY counter LIMIT 1", (dev, ctr)).fetchone()
                out.append((dev, ctr, rec, fl, json.loads(f), nxt))
        return out

    def reject_log_since(self, since, limit) -> list:
        """Refusals at or after ``since``, newest first: {"at", "source", "reason", "detail"}."""
        with self.lock:
            rows = self.db.execute("SELECT at, source, reason, detail FROM reject_log WHERE at >= ? "
                                   "ORDER BY rowid DESC LIMIT ?", (since, limit)).fetchall()
        return [dict(zip(("at", "source", "reason", "detail"), r, strict=True)) for r in rows]

    def update_log_since(self, since, limit) -> list:
        """App update steps at or after ``since``, newest first: (device_id, version, status, detail, at, source)."""
        with self.lock:
            return self.db.execute("SELECT device_id, version, status, detail, at, source FROM update_log WHERE "
                                   "at >= ? ORDER BY rowid DESC LIMIT ?", (since, limit)).fetchall()

    def insert_bulk(self, rows) -> None:
        """Reports written straight in, for benchmarks that need a year of a fleet (tools/bench_console.py):
        ``rows`` (device_id, counter, received, source, ts, flags, fields dict, raw). Then call
        ``refresh_devices()``. Not the ingest path: nothing is verified."""
        with self.lock, self.db:
            self.db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?)",
                                ((d, c, rec, src, ts, fl, json.dumps(f), raw) for d, c, rec, src, ts, fl, f, raw
                                 in rows))

    def refresh_devices(self) -> None:
        """Rebuild the devices table from the reports (after insert_bulk)."""
        with self.lock, self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO devices (device_id, last_counter, last_seen, last_source, reports, alarms) "
                "SELECT device_id, MAX(counter), MAX(received), 'bulk', COUNT(*), SUM(flags & 55 != 0) "
                "FROM reports GROUP BY device_id")
    # --- the ledger (collector/ledger.py) ---
    def ledger_state(self):
        """(tree size, frontier blob) as of the last commit; (0, b"") for a fresh ledger."""
        with self.lock:
            r = self.db.execute("SELECT size, frontier FROM ledger_state WHERE id=0").fetchone()
        return (r[0], bytes(r[1])) if r else (0, b"")

    def ledger_append(self, datagram, leaves, size, frontier, checkpoints=()):
        """Inside an uplink's transaction (an insert hook): the datagram once, its leaves ((idx, device, counter,
        hash)), the new frontier, and the checkpoints signed on the way ((size, timestamp, root, signature))."""
        uid = self.db.execute("INSERT INTO ledger_uplinks (datagram) VALUES (?)", (datagram,)).lastrowid
        self.db.executemany("INSERT INTO ledger_leaves VALUES (?,?,?,?,?)",
                            [(i, d, c, uid, h) for i, d, c, h in leaves])
        self._ledger_state(size, frontier)
        self.db.executemany("INSERT INTO ledger_checkpoints VALUES (?,?,?,?)", checkpoints)

    def _ledger_state(self, size, frontier):
        self.db.execute("INSERT INTO ledger_state VALUES (0,?,?) ON CONFLICT(id) DO UPDATE SET size=excluded.size, "
                        "frontier=excluded.frontier", (size, frontier))

    def ledger_adopt(self, leaves, size, frontier):
        """A ledger started on a database that already had reports: those reports become its first leaves (no
        datagram kept: an empty one), in the order they were stored. One transaction."""
        with self.lock, self.db:
            uid = self.db.execute("INSERT INTO ledger_uplinks (datagram) VALUES (?)", (b"",)).lastrowid
            self.db.executemany("INSERT INTO ledger_leaves VALUES (?,?,?,?,?)",
                                [(i, d, c, uid, h) for i, d, c, h in leaves])
            self._ledger_state(size, frontier)

    def ledger_add_checkpoint(self, size, timestamp, root, signature):
        with self.lock, self.db:
            self.db.execute("INSERT OR IGNORE INTO ledger_checkpoints VALUES (?,?,?,?)",
                            (size, timestamp, root, signature))

    def ledger_checkpoints(self) -> list:
        """[(tree_size, timestamp ms, root, signature)] by size."""
        with self.lock:
            return [(n, t, bytes(r), bytes(s)) for n, t, r, s in
                    self.db.execute("SELECT tree_size, timestamp, root, signature FROM ledger_checkpoints "
                                    "ORDER BY tree_size")]

    def ledger_hashes(self, size=None) -> list:
        """The leaf hashes in order (the first ``size``)."""
        q = "SELECT hash FROM ledger_leaves ORDER BY idx"
        with self.lock:
            rows = self.db.execute(q + (" LIMIT ?" if size is not None else ""),
                                   (size,) if size is not None else ()).fetchall()
        return [bytes(r[0]) for r in rows]

    def ledger_leaf_index(self, device_id, counter):
        with self.lock:
            r = self.db.execute("SELECT idx FROM ledger_leaves WHERE device_id=? AND counter=?",
                                (device_id, counter)).fetchone()
        return r[0] if r else None

    def ledger_record(self, device_id, counter):
        """What a leaf commits to, from the stored data: (idx, received, raw, datagram, fields text), or None."""
        with self.lock:
            r = self.db.execute("SELECT l.idx, r.received, r.raw, u.datagram, r.fields FROM ledger_leaves l "
                                "JOIN reports r ON r.device_id=l.device_id AND r.counter=l.counter "
                                "JOIN ledger_uplinks u ON u.uplink_id=l.uplink_id "
                                "WHERE l.device_id=? AND l.counter=?", (device_id, counter)).fetchone()
        return None if r is None else (r[0], r[1], bytes(r[2]), bytes(r[3]), r[4])

    def ledger_scan(self):
        """Two iterators for ``ledger verify``: the reports as stored (rowid order: device, counter, received, raw,
        fields) and the leaves (idx order: idx, device, counter, hash, datagram). Call under ``lock``."""
        data = self.db.execute("SELECT device_id, counter, received, raw, fields FROM reports ORDER BY rowid")
        leaves = self.db.cursor().execute("SELECT l.idx, l.device_id, l.counter, l.hash, u.datagram FROM "
                                          "ledger_leaves l LEFT JOIN ledger_uplinks u ON u.uplink_id=l.uplink_id "
                                          "ORDER BY l.idx")
        return data, leaves

    def ledger_keys(self) -> dict:
        """{(device, counter): idx} of every leaf (to explain a difference ``ledger verify`` found)."""
        with self.lock:
            return {(d, c): i for i, d, c in self.db.execute("SELECT idx, device_id, counter FROM ledger_leaves")}

    def report_keys(self) -> set:
        with self.lock:
            return set(self.db.execute("SELECT device_id, counter FROM reports").fetchall())

    def all_reports_raw(self):
        """(device, counter, received, raw, fields text) of every report in the order stored (ledger adoption)."""
        with self.lock:
            return self.db.execute("SELECT device_id, counter, received, raw, fields FROM reports "
                                   "ORDER BY rowid").fetchall()

    # --- usage (collector/usage.py) ---
    def usage_rows(self, device_id) -> list:
        """(counter, fields text) of a device's reports by counter."""
        with self.lock:
            return self.db.execute("SELECT counter, fields FROM reports WHERE device_id=? ORDER BY counter",
                                   (device_id,)).fetchall()

    def device_ids(self) -> list:
        with self.lock:
            return [r[0] for r in self.db.execute("SELECT DISTINCT device_id FROM reports ORDER BY device_id")]


class Unreadable(Exception):
    """The database could not be read (not a collector's, locked past the timeout, damaged): ``args[0]`` says why."""


class Reader:
    """A collector's database from another process, read-only: each query opens the file read-only and closes it
    again, so nothing here can change it or hold the collector up. Unreadable when SQLite cannot read it."""

    def __init__(self, path, timeout=2.0):
        self.path, self.timeout = Path(path), timeout

    def _query(self, sql, args=()):
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.timeout)
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()
        except sqlite3.Error as e:
            raise Unreadable(str(e)) from e

    def last_counter(self, device_id):
        """The highest counter stored for the device, or None when it sent nothing yet."""
        rows = self._query("SELECT last_counter FROM devices WHERE device_id=?", (device_id,))
        return rows[0][0] if rows else None

    def last_rowid(self) -> int:
        """Where the reports stored so far end (``reports_after`` of it gives only what comes later)."""
        return self._query("SELECT COALESCE(MAX(rowid), 0) FROM reports")[0][0]

    def reports_after(self, rowid, device_id=None) -> list:
        """Reports stored after ``rowid``, in the order they were stored: (rowid, device_id, counter, received,
        the report decoded)."""
        sql = "SELECT rowid, device_id, counter, received, fields FROM reports WHERE rowid > ?"
        args = [rowid]
        if device_id is not None:
            sql += " AND device_id = ?"
            args.append(device_id)
        return [(r, dev, ctr, rec, json.loads(fields))
                for r, dev, ctr, rec, fields in self._query(sql + " ORDER BY rowid", args)]

    def device_states(self) -> list:
        """Every device's last_seen, reports and alarms with its latest report and latest health block, decoded
        (what ``fieldnode devices`` shows; console.health reads it)."""
        rows = self._query("SELECT d.device_id, d.last_seen, d.reports, d.alarms, r.fields, (SELECT h.fields FROM "
                           "reports h WHERE h.device_id=d.device_id AND h.flags & 128 ORDER BY h.counter DESC "
                           "LIMIT 1) FROM devices d LEFT JOIN reports r ON r.device_id=d.device_id AND "
                           "r.counter=d.last_counter ORDER BY d.device_id")
        return [{"device_id": dev, "last_seen": seen, "reports": n, "alarms": a,
                 "last_report": json.loads(f) if f else None,
                 "last_health": (json.loads(h).get("health") if h else None)} for dev, seen, n, a, f, h in rows]
