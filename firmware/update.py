"""App updates over the link, on the device: fetch an offered version in chunks, stage it, verify it, switch to it,
confirm it after a delivered report, and report a rollback. loader.py chooses the directory at boot and rolls back;
proto/fetch.py is the wire format; host/fieldnode/release.py makes the release and the collector serves it.

app.uplink() calls ``after_delivery(app, link, key, dev, sent, board)`` while the link is still up, after the
queued reports went out, when the collector offered a version (state.json "upd", set by the OP_UPDATE command in
proto/commands.py) or loader.busy() (a trial, or a rollback to report). In that order it

1. confirms a version on trial when this cycle delivered a report: the trial ends (status S_CONFIRMED);
2. reports a rollback the loader made (S_ROLLED_BACK and why); the report before it carried FLAG_BOOT and HEALTH;
3. fetches the offered version, as far as this session goes (FETCH_MS, or until the link gives no reply):
   - it stages into the app directory that is not running; ``<stage>/.stage`` (store.kv) names the version
     being staged, and a different version wipes the directory first;
   - the manifest, then each file, comes in CHUNK pieces appended to ``<name>.part``; the size of the .part file
     on flash is the progress (littlefs commits each append when the file is closed), so after an outage or a
     power cut the next session asks for the next byte it lacks, not for the file again;
   - a file the running app already has with the same hash is copied on the flash instead (most files, in a
     typical update);
   - a .part becomes its file only when its SHA-256 is the manifest's, and the manifest is used only when its
     32-byte tag verifies under the device key and it is for this architecture (and board);
4. once every file is staged, hashes them all again, writes the pointer (the new directory active and on trial,
   the running one kept as its previous), clears the offer, says S_SWITCHED and resets into the new version.

A version that cannot be had (the collector no longer serves it, its manifest or a file keeps failing
verification, it was rolled back here before, the flash is full) is refused with S_REFUSED and the offer dropped;
the app goes on as it was. A download never starts while a version is on trial: the stage would be its fallback.
"""

import os
import sys
import time

import machine
from micropython import const

import loader
from proto import auth
from proto import fetch as F
from store import tree
from store.kv import KV

FETCH_MS = const(90000)  # radio time one session may spend on an update; the watchdog is fed per chunk
REPLY_MS = const(5000)  # wait for one fetch reply
TRIES = const(3)  # sends of one request without a reply before the session ends (out of coverage)
MAX_BAD = const(3)  # replies in a row that do not verify before the session ends
MAX_FAILS = const(3)  # hash or manifest failures of one version before it is refused
ENOSPC = const(28)
# sys.implementation._mpy >> 10 (py/persistentcode.h MP_NATIVE_ARCH_*): native code runs only on its own
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
         "xtensawin", "rv32imc", "rv64imc")


class Refused(Exception):
    """This version will not be taken; args[0] is the reason (proto.fetch F_*)."""


def log(msg):
    print("fieldnode: update:", msg)


def arch():
    n = getattr(sys.implementation, "_mpy", 0) >> 10
    return ARCHS[n] if n < len(ARCHS) else None


class Session:
    """Fetch requests over the link that is up; counts datagrams and bytes."""

    def __init__(self, app, link, key, dev):
        self.app, self.link, self.key, self.dev = app, link, auth.Key(key), dev
        self.t0 = time.ticks_ms()
        self.sent = 0
        self.rx = 0

    def expired(self):
        return time.ticks_diff(time.ticks_ms(), self.t0) > FETCH_MS

    def ask(self, kind, version, index, offset, want):
        """(total, result, data) of a reply that verifies, or None when the link gives none."""
        req = F.encode_request(self.key, self.dev, kind, version, index, offset, want)
        tries = bad = 0
        while tries < TRIES and bad < MAX_BAD:
            self.app.feed()
            self.sent += 1
            data = self.link.send(req, REPLY_MS)
            if data is None:
                tries += 1
                continue
            self.rx += len(data)
            try:
                return F.parse_reply(self.key, self.dev, data, kind, version, index, offset)
            except ValueError as e:
                bad += 1  # tampered, garbled or late: never written anywhere
                log("reply refused: %s" % (e.args[-1],))
        return None

    def status(self, code, version, detail=0):
        return self.ask(F.K_STATUS, version, code, detail, 0) is not None

    def pull(self, kind, version, index, path):
        """Fetch the manifest or file ``index`` into path + ".part" from where it stopped. Its total size once
        complete; None when the session ends first."""
        part = path + ".part"
        off = max(tree.size(part), 0)
        while not self.expired():
            r = self.ask(kind, version, index, off, F.CHUNK)
            if r is None:
                return None
            total, result, data = r
            if result == F.R_NO_RELEASE:
                raise Refused(F.F_GONE)
            if result != F.R_OK or off + len(data) > total:
                if off == 0:
                    raise Refused(F.F_MANIFEST)  # the collector's release does not match this manifest
                tree.rmtree(part)  # longer than the object: fetch it again
                off = 0
                continue
            if len(data):
                tree.append(part, data)
                off += len(data)
            if off >= total:
                return total
            if not len(data):
                return None
        return None


def after_delivery(app, link, key, dev, sent, board=None):
    """See the module docstring. Resets the board (and does not return) when it switched to a new version."""
    p = loader.state if loader.state is not None else loader.read()
    s = Session(app, link, key, dev)
    if p and p.get("trial") and sent:
        for k in ("trial", "boots", "resets"):
            p.pop(k, None)
        loader.write(p)
        log("%s confirmed: it delivered %d report(s)" % (loader.vstr(p.get("ver", 0)), sent))
        s.status(F.S_CONFIRMED, p.get("ver", 0))
    if p and p.get("rb"):
        v, why = p["rb"]
        if s.status(F.S_ROLLED_BACK, v, why):
            p.pop("rb")
            loader.write(p)
    upd = app.pstate.get("upd")
    switched = upd and offer(app, s, p, upd, board)
    if s.sent:
        log("session: %d request(s), %d bytes received, %d ms" % (s.sent, s.rx, time.ticks_diff(time.ticks_ms(),
                                                                                                   s.t0)))
    if switched:
        try:
            link.down(psm=True)
        except OSError:
            pass
        machine.RTC().memory(b"")  # the new version starts from a fresh RTC state, so its first cycle uplinks
        machine.reset()


def _drop(app):
    ps = dict(app.pstate)
    ps.pop("upd", None)
    app.kv.save(ps)
    app.pstate = ps


def offer(app, s, p, upd, board):
    """Carry the offered version ``upd`` forward; True when it is staged, verified and switched to."""
    p = p or {}
    if upd == p.get("ver", 0):
        _drop(app)  # running it already (switched before the offer was cleared)
        return False
    if p.get("trial"):
        return False
    active = p.get("active", "")
    stage = loader.SLOTS[1] if active == loader.SLOTS[0] else loader.SLOTS[0]
    try:
        if upd in (p.get("bad") or ()):
            raise Refused(F.F_BAD)
        mk = KV(stage + "/.stage")
        m = mk.load()
        if m.get("ver") != upd:
            tree.rmtree(stage)
            tree.makedirs(stage)
            m = {"ver": upd, "fails": 0}
            mk.save(m)
        files = _manifest(s, upd, stage, mk, m, board)
        if files is None or not _files(s, upd, active, stage, files, mk, m):
            return False
        for path, _, digest in files:  # every hash again, right before the switch
            if tree.sha256(stage + "/" + path) != digest:
                tree.rmtree(stage + "/" + path)
                return _failed(mk, m, F.F_HASH, path)
    except Refused as e:
        log("%s refused: %s" % (loader.vstr(upd), F.WHY_NAMES.get((F.S_REFUSED, e.args[0]), e.args[0])))
        s.status(F.S_REFUSED, upd, e.args[0])
        tree.rmtree(stage)
        _drop(app)
        return False
    except OSError as e:
        if e.args[0] != ENOSPC:
            raise
        log("%s refused: the flash is full" % loader.vstr(upd))
        tree.rmtree(stage)
        s.status(F.S_REFUSED, upd, F.F_SPACE)
        _drop(app)
        return False
    new = {"active": stage, "ver": upd, "prev": active, "pver": p.get("ver", 0), "trial": 1, "boots": 0,
           "resets": 0, "bad": p.get("bad") or []}
    if p.get("rb"):
        new["rb"] = p["rb"]
    loader.write(new)
    _drop(app)
    log("switched to %s in /%s (%d files); resetting into it" % (loader.vstr(upd), stage, len(files)))
    s.status(F.S_SWITCHED, upd)
    return True


def _failed(mk, m, code, what):
    m["fails"] = m.get("fails", 0) + 1
    mk.save(m)
    log("%s failed verification (%d of %d)" % (what, m["fails"], MAX_FAILS))
    if m["fails"] >= MAX_FAILS:
        raise Refused(code)
    return False


def _manifest(s, upd, stage, mk, m, board):
    """The manifest's files, fetched and verified; None when this session ends first."""
    man = stage + "/.manifest"
    if tree.size(man) < 0:
        if s.pull(F.K_MANIFEST, upd, 0, man) is None:
            return None
        os.rename(man + ".part", man)
    with open(man, "rb") as f:
        data = f.read()
    try:
        body = F.open_manifest(s.key, s.dev, data)
        version, bname, march, files = F.parse_manifest(body)
    except ValueError as e:
        tree.rmtree(man)
        return _failed(mk, m, F.F_MANIFEST, "manifest (%s)" % (e.args[-1],)) or None
    me = arch()
    if version != upd or (me and march != me) or (board and bname != board):
        raise Refused(F.F_TARGET)
    return files


def _files(s, upd, active, stage, files, mk, m):
    """Stage every file (copied from the running app when it has the same hash); True when all are there."""
    fetched = 0
    for i in range(len(files)):
        path, size, digest = files[i]
        dst = stage + "/" + path
        if tree.size(dst) == size:
            continue  # staged in an earlier session (it was verified before its rename)
        cut = dst.rfind("/")
        tree.makedirs(dst[:cut])
        src = (active + "/" if active else "") + path
        if tree.size(src) == size and tree.sha256(src) == digest:
            tree.copy(src, dst + ".part")
        else:
            total = s.pull(F.K_FILE, upd, i, dst)
            if total is None:
                log("%s: %d file(s) fetched this session; the rest next time" % (loader.vstr(upd), fetched))
                return False
            if total != size:
                raise Refused(F.F_MANIFEST)
            fetched += 1
        if tree.sha256(dst + ".part") != digest:
            tree.rmtree(dst + ".part")
            return _failed(mk, m, F.F_HASH, path)
        os.rename(dst + ".part", dst)
    return True
