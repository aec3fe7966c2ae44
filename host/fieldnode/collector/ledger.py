"""The collector's tamper-evident ledger, in the manner of Certificate Transparency (RFC 9162): an append-only
Merkle tree over every stored report, with signed tree heads (checkpoints).

A leaf is one stored report: the exact authenticated datagram it came in, its device, counter, the collector's
receive time, the report's bytes and the decoded fields as stored (the encoding and hashing are in
fieldnode/ledger_verify.py, the standalone verifier, so both sides run the same code; RFC 9162 section 2.1: SHA-256,
0x00 before a leaf, 0x01 before two children). Appending is incremental: the tree's frontier (the roots of its
perfect subtrees, at most one per bit of the size) is kept in ``ledger_state`` and updated in the very transaction
that stores the reports (``Store.insert_hooks``), O(log n) hashes per report and one row per leaf. Every ``every``
leaves, and on demand (``checkpoint()``), the collector signs (size, time, root) with its Ed25519 key, kept in
$FIELDNODE_HOME/ledger_key.pem (made on first use, mode 0600).

``verify()`` rebuilds everything from the database: each report row in the order stored against the leaf at the same
position (the first row that differs is named: edited, inserted, deleted or moved), the leaf hashes against every
signed checkpoint, and the frontier. The reports' rowids are the storage order: the collector never deletes or
VACUUMs them (an SQLite VACUUM may renumber a table's rowids and would show as reordering).

The device's HMAC tag in the datagram stays the proof of origin; the ledger proves nothing changed after arrival.
"""

import hashlib
import os
import struct
import time
from pathlib import Path

from ..errors import ConfigError, UsageError
from ..ledger_verify import leaf_hash, leaf_input, node_hash, sth_message

EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 2.1.1: the hash of an empty list


# --- the tree ---
def frontier_root(frontier) -> bytes:
    """The root of the tree whose perfect subtrees (largest first) are ``frontier``."""
    if not frontier:
        return EMPTY_ROOT
    r = frontier[-1]
    for h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


def frontier_push(frontier: list, size: int, h: bytes) -> None:
    """Append the leaf hash ``h`` to a tree of ``size`` leaves given by its frontier (in place)."""
    frontier.append(h)
    n = size
    while n & 1:  # each trailing one bit of the old size is a perfect subtree the new leaf completes
        right = frontier.pop()
        frontier[-1] = node_hash(frontier[-1], right)
        n >>= 1


def pack_frontier(frontier) -> bytes:
    return b"".join(frontier)


def unpack_frontier(blob: bytes) -> list:
    return [blob[i:i + 32] for i in range(0, len(blob), 32)]


def _split(n):
    """RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """A tree over the given leaf hashes with every perfect subtree kept, for proofs: O(n) to build, then any
    subtree hash in O(log n)."""

    def __init__(self, hashes):
        self.levels = [list(hashes)]
        lv = self.levels[0]
        while len(lv) > 1:
            lv = [node_hash(a, b) for a, b in zip(lv[0::2], lv[1::2], strict=False)]
            self.levels.append(lv)
        self.size = len(self.levels[0])

    def mth(self, a, b) -> bytes:
        """MTH(D[a:b]) (RFC 9162 2.1.1)."""
        n = b - a
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and a % n == 0:
            j = n.bit_length() - 1
            return self.levels[j][a >> j]
        k = _split(n)
        return node_hash(self.mth(a, a + k), self.mth(a + k, b))

    def inclusion(self, m, size) -> list:
        """PATH(m, D[0:size]) (RFC 9162 2.1.3.1)."""
        if not 0 <= m < size <= self.size:
            raise UsageError(f"leaf {m} is not in a tree of {size} leaves", "prove against a later checkpoint")
        out = []

        def path(m, a, b):
            if b - a == 1:
                return
            k = _split(b - a)
            if m < a + k:
                path(m, a, a + k)
                out.append(self.mth(a + k, b))
            else:
                path(m, a + k, b)
                out.append(self.mth(a, a + k))

        path(m, 0, size)
        return out

    def consistency(self, m, n) -> list:
        """PROOF(m, D[0:n]) (RFC 9162 2.1.4.1)."""
        if not 0 <= m <= n <= self.size:
            raise UsageError(f"no consistency proof from {m} to {n} leaves", "give OLD <= NEW <= the ledger's size")
        if m in (0, n):
            return []
        out = []

        def sub(m, a, b, whole):
            if m == b:
                if not whole:
                    out.append(self.mth(a, b))
                return
            k = _split(b - a)
            if m - a <= k:
                sub(m, a, a + k, whole)
                out.append(self.mth(a + k, b))
            else:
                sub(m, a + k, b, False)
                out.append(self.mth(a, a + k))

        sub(m, 0, n, True)
        return out


# --- the key ---
def load_key(path: Path, create=True):
    """The collector's Ed25519 private key from ``path`` (PEM, PKCS#8), made with mode 0600 when it is missing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    if not path.exists():
        if not create:
            raise UsageError(f"no ledger key at {path}", "the collector makes it at its first checkpoint")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        except FileExistsError:  # another process made it meanwhile: use theirs
            pass
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"ledger key {path} is readable by others", f"chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except ValueError as e:
        raise ConfigError(f"ledger key {path} is not a PEM private key: {e}", "restore it from a backup")
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"ledger key {path} is not an Ed25519 key", "restore the collector's own key")
    return key


def public_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def checkpoint_dict(cp) -> dict:
    n, t, root, sig = cp
    return {"tree_size": n, "timestamp": t, "root": root.hex(), "signature": sig.hex()}


class Ledger:
    def __init__(self, store, key_path=None, every=1000, clock=time.time):
        from ..paths import home

        self.store = store
        self.key_path = Path(key_path) if key_path else home() / "ledger_key.pem"
        self.every = max(1, int(every))
        self.clock = clock
        self._key = None
        self.size, blob = store.ledger_state()
        self.frontier = unpack_frontier(blob)
        if self.size == 0:
            self._adopt()
        store.insert_hooks.append(self.on_insert)

    @property
    def key(self):
        if self._key is None:
            self._key = load_key(self.key_path)
        return self._key

    def _adopt(self):
        rows = self.store.all_reports_raw()
        if not rows:
            return
        leaves, fr = [], []
        for i, (d, c, rec, raw, text) in enumerate(rows):
            h = leaf_hash(leaf_input(d, c, rec, bytes(raw), b"", text))
            leaves.append((i, d, c, h))
            frontier_push(fr, i, h)
        self.store.ledger_adopt(leaves, len(rows), pack_frontier(fr))
        self.size, self.frontier = len(rows), fr

    def root(self) -> bytes:
        return frontier_root(self.frontier)

    def _sign(self, size, root):
        ts = int(self.clock() * 1000)
        return size, ts, root, self.key.sign(sth_message(size, ts, root))

    def on_insert(self, device_id, rows, at, datagram):
        """Store.insert_hooks: the uplink's new reports become leaves, in its transaction."""
        size, fr = self.size, list(self.frontier)
        leaves, cps = [], []
        for ctr, raw, text in rows:
            h = leaf_hash(leaf_input(device_id, ctr, at, raw, datagram, text))
            leaves.append((size, device_id, ctr, h))
            frontier_push(fr, size, h)
            size += 1
            if size % self.every == 0:
                cps.append(self._sign(size, frontier_root(fr)))
        self.store.ledger_append(datagram, leaves, size, pack_frontier(fr), cps)
        self.size, self.frontier = size, fr  # only once the writes went in (a failure above rolls all back)

    def checkpoint(self) -> dict:
        """Sign the tree as it is now (from the database: another process may be the one appending)."""
        with self.store.lock:
            size, blob = self.store.ledger_state()
            cp = self._sign(size, frontier_root(unpack_frontier(blob)))
            self.store.ledger_add_checkpoint(*cp)
        return checkpoint_dict(cp)

    def checkpoints(self) -> list:
        return [checkpoint_dict(c) for c in self.store.ledger_checkpoints()]

    def checkpoint_at(self, size) -> dict:
        for c in self.checkpoints():
            if c["tree_size"] == size:
                return c
        sizes = ", ".join(str(c["tree_size"]) for c in self.checkpoints()) or "none yet"
        raise UsageError(f"no checkpoint of size {size}", f"signed sizes: {sizes}; make one: fieldnode ledger "
                                                          "checkpoint")

    def covering(self, index) -> dict:
        """The latest checkpoint, made now when none covers leaf ``index`` yet."""
        cps = self.checkpoints()
        if cps and cps[-1]["tree_size"] > index:
            return cps[-1]
        return self.checkpoint()

    def tree(self, size=None) -> Tree:
        return Tree(self.store.ledger_hashes(size))

    def record(self, device_id, counter) -> dict:
        r = self.store.ledger_record(device_id, counter)
        if r is None:
            raise UsageError(f"device {device_id} counter {counter} is not in the ledger",
                             "check the device id and counter (fieldnode export lists them)")
        idx, received, raw, datagram, text = r
        return {"index": idx, "device": device_id, "counter": counter, "received": received, "raw": raw.hex(),
                "uplink": datagram.hex(), "fields": text}

    def prove(self, device_id, counter, tree=None) -> dict:
        """An inclusion proof of one report against the latest checkpoint (made now if none covers it)."""
        rec = self.record(device_id, counter)
        cp = self.covering(rec["index"])
        tree = tree or self.tree(cp["tree_size"])
        rec["proof"] = [h.hex() for h in tree.inclusion(rec["index"], cp["tree_size"])]
        return {"checkpoint": cp, "report": rec, "public_key": public_pem(self.key).decode()}

    def consistency(self, old, new) -> dict:
        o, n = self.checkpoint_at(old), self.checkpoint_at(new)
        if old > new:
            raise UsageError(f"OLD {old} is after NEW {new}", "give the earlier checkpoint's size first")
        proof = self.tree(new).consistency(old, new)
        return {"old": o, "new": n, "proof": [h.hex() for h in proof]}

    def verify(self) -> dict:
        return verify(self.store, self.key_path)


def verify(store, key_path) -> dict:
    """Rebuild the ledger from the database and check it: {"ok", "leaves", "reports", "checkpoints", "problems":
    [one line each], "first": the first row where ledger and data differ or None}."""
    from cryptography.exceptions import InvalidSignature

    pub = load_key(key_path, create=False).public_key() if Path(key_path).exists() else None
    problems, first = [], None
    cps = store.ledger_checkpoints()
    cp_at = {c[0]: c for c in cps}
    sha = hashlib.sha256
    pack = struct.Struct(">IId").pack
    ln = struct.Struct(">I").pack
    hashes, size, nrows = [], 0, 0
    with store.lock:
        data, leaves = store.ledger_scan()
        for drow in data:
            lrow = next(leaves, None)
            nrows += 1
            if lrow is None:
                if first is None:
                    first = (nrows - 1, "inserted", drow[0], drow[1])
                continue
            idx, ld, lc, h, dg = lrow
            hashes.append(h)
            if first is None:
                d, c, rec, raw, text = drow
                if idx != size:
                    first = (size, "deleted", ld, lc)
                elif (d, c) != (ld, lc):
                    first = (size, "moved", d, c)
                else:
                    f = text.encode()
                    dg = dg or b""
                    if sha(b"".join((b"\x00FNL1", pack(d, c, rec), ln(len(raw)), raw, ln(len(dg)), dg,
                                     ln(len(f)), f))).digest() != h:
                        first = (size, "edited", d, c)
            size += 1
        for lrow in leaves:  # leaves beyond the data: rows deleted at the end
            if first is None:
                first = (size, "deleted", lrow[1], lrow[2])
            hashes.append(lrow[3])
            size += 1
    tree = Tree(hashes)  # every checkpoint's root from the one tree: O(n) hashes, then O(log n) each
    last_good = 0
    for n in sorted(cp_at):
        if n <= size:
            last_good = _check_cp(cp_at[n], tree.mth(0, n), pub, problems, last_good, InvalidSignature)
    for n in cp_at:
        if n > size:
            problems.append(f"checkpoint of size {n} is beyond the ledger's {size} leaves: leaves were removed")
    st_size, blob = store.ledger_state()
    if st_size != size or frontier_root(unpack_frontier(blob)) != tree.mth(0, size):
        problems.append(f"the ledger's stored frontier ({st_size} leaves) does not match its {size} leaves")
    if first is not None:
        first = _explain(store, *first)
        problems.insert(0, first.pop("message"))
    if pub is None and cps:
        problems.append(f"no public key at {key_path}: checkpoint signatures were not checked")
    return {"ok": not problems, "leaves": size, "reports": nrows, "checkpoints": len(cps), "problems": problems,
            "first": first}


def _check_cp(cp, root, pub, problems, last_good, invalid):
    n, ts, sroot, sig = cp
    if pub is not None:
        try:
            pub.verify(sig, sth_message(n, ts, sroot))
        except invalid:
            problems.append(f"checkpoint of size {n}: its signature does not verify (the checkpoint was altered)")
            return last_good
    if sroot != root:
        problems.append(f"checkpoint of size {n}: leaves {last_good}..{n - 1} no longer hash to its signed root "
                        f"(a leaf there was rewritten)")
        return last_good
    return n


def _explain(store, pos, kind, d, c) -> dict:
    """The first difference, classified: {"row", "kind" (edited, inserted, deleted, reordered), "device",
    "counter", "message"}."""
    out = {"row": pos, "kind": kind, "device": d, "counter": c}
    where = f"row {pos} (device {d} counter {c})"
    if kind == "edited":
        return dict(out, message=f"first difference at {where}: the stored report differs from what the ledger "
                                 "recorded (edited)")
    keys = store.ledger_keys()
    if (d, c) not in keys:
        return dict(out, kind="inserted", message=f"first difference at {where}: a report the ledger never "
                                                  "recorded (inserted)")
    have = store.report_keys()
    missing = sorted((i, k) for k, i in keys.items() if k not in have)
    if missing:
        i, (md, mc) = missing[0]
        return {"row": i, "kind": "deleted", "device": md, "counter": mc,
                "message": f"first difference at row {i}: the ledger's report device {md} counter {mc} is missing "
                           "from the data (deleted)"}
    return dict(out, kind="reordered", message=f"first difference at {where}: the ledger has it at leaf "
                                               f"{keys[(d, c)]}, not here (reordered)")
