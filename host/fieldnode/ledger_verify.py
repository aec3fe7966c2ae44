"""Check a fieldnode usage statement offline: ``python ledger_verify.py statement.json --key collector.pub.pem``.

One module, no fieldnode imports (only the standard library and ``cryptography`` for Ed25519), so a customer can
read it in full and run it on their own machine. The collector's code (fieldnode/collector/ledger.py, usage.py)
uses the same functions, so what is checked here is by definition what the collector computed.

The algorithm, step by step:

1. **Tree head.** The statement's ``checkpoint`` is {"tree_size", "timestamp" (ms), "root" (hex), "signature"}.
   The signed message is ``b"fieldnode-sth-v1\\0" || u64 tree_size || u64 timestamp || root`` (big-endian), the
   signature Ed25519 (RFC 8032) under the collector's public key given on the command line (never the one in the
   file: that one is only a hint).
2. **Leaves.** Each entry of ``reports`` is one stored report: device, counter, received (the collector's receive
   time, a float), raw (the report's bytes, hex), uplink (the whole authenticated datagram it arrived in, hex: its
   HMAC tag is the device's proof of origin, checkable by whoever holds the device key), fields (the decoded report
   exactly as the collector stored it, a JSON text). The leaf input is ``b"FNL1" || u32 device || u32 counter ||
   f64 received || (u32 len || bytes) for raw, uplink, fields (UTF-8)``, and the leaf hash is
   SHA-256(0x00 || leaf input) (RFC 9162 section 2.1.1).
3. **Inclusion.** Each report's ``proof`` (a list of hex hashes) and ``index`` must lead from its leaf hash to the
   checkpoint's root by RFC 9162 section 2.1.3.2, interior nodes being SHA-256(0x01 || left || right).
4. **Quantities.** For each line (device, meter, period [start, end) in Unix seconds), the reports of that device
   are taken as samples (t = the fields' "ts", counter, epoch = the fields' "meter_epoch" or "epoch", default 0,
   value = the meter's cumulative total in the fields) and ``period_usage`` below is run on them; its quantity and
   error bound must equal the line's (to 1e-9 relative). ``period_usage``: samples sorted by counter (a repeated
   counter counts once), times made non-decreasing (each t at least the one before), then for each consecutive
   pair (a, b) the increment is b - a in the same epoch, b itself when the epoch changed (a new meter starts from
   0) or the total went down without a new epoch (a reset); the increment is spread linearly over [t_a, t_b] and
   the part inside [start, end) is counted. A pair wholly inside is measured (exact); a pair across a boundary is
   estimated, with the bound of the error: the true part lies in [lo, hi] (lo = 0, hi = increment, narrowed by the
   meter's maximum rate when one is given: run hours grow at most 1 h per hour), the bound is the larger distance
   of the estimate to lo or hi. The first sample is the baseline: nothing before it is counted.

Exit status 0 when everything checks, 1 with one line per failure otherwise. A consistency proof between two
checkpoints (``fieldnode ledger consistency``) is checked with ``--consistency proof.json`` (RFC 9162 2.1.4.2).
"""

import hashlib
import json
import struct
import sys

LEAF, NODE = b"\x00", b"\x01"
STH_PREFIX = b"fieldnode-sth-v1\x00"
LEAF_MAGIC = b"FNL1"
EPOCH_KEYS = ("meter_epoch", "epoch")


def leaf_input(device: int, counter: int, received: float, raw: bytes, uplink: bytes, fields: str) -> bytes:
    f = fields.encode()
    return b"".join((LEAF_MAGIC, struct.pack(">IId", device, counter, received), struct.pack(">I", len(raw)), raw,
                     struct.pack(">I", len(uplink)), uplink, struct.pack(">I", len(f)), f))


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE + left + right).digest()


def sth_message(tree_size: int, timestamp: int, root: bytes) -> bytes:
    return STH_PREFIX + struct.pack(">QQ", tree_size, timestamp) + root


def root_from_inclusion(index: int, tree_size: int, leaf: bytes, path) -> bytes | None:
    """RFC 9162 2.1.3.2: the root the path leads to from ``leaf`` at ``index``, or None when it cannot."""
    if index >= tree_size:
        return None
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def check_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path) -> bool:
    """RFC 9162 2.1.4.2: does ``path`` prove the tree of ``second`` leaves extends the one of ``first``?"""
    path = list(path)
    if first == second:
        return not path and first_root == second_root
    if first == 0 or first > second:
        return first == 0 and not path  # the empty tree is a prefix of any tree
    if first & (first - 1) == 0:
        path = [first_root] + path
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def period_usage(samples, start: float, end: float, rate_max: float | None = None) -> dict:
    """Usage in [start, end) from (t, counter, epoch, cumulative value) samples of one meter (see the module
    docstring, step 4). ``rate_max``: the most the meter can grow per second, or None. Returns {"quantity",
    "measured" (the part from pairs wholly inside), "estimated" (bool), "error_bound", "resets", "reports" (the
    distinct samples used), "complete" (a sample at or after ``end`` exists and one at or before ``start``)}."""
    seen, pts = set(), []
    for t, ctr, epoch, v in sorted(samples, key=lambda s: s[1]):
        if ctr in seen or v is None:
            continue
        seen.add(ctr)
        if pts and t < pts[-1][0]:
            t = pts[-1][0]
        pts.append((t, epoch, v))
    qty = measured = bound = 0.0
    resets = 0
    est = False
    for (ta, ea, va), (tb, eb, vb) in zip(pts, pts[1:], strict=False):
        if eb == ea and vb >= va:
            inc = vb - va
        else:
            inc, resets = vb, resets + (eb == ea)
        if tb <= start or ta >= end:
            if not (ta == tb == start):
                continue
        if ta == tb:
            if start <= ta < end:
                qty += inc
                measured += inc
            continue
        lo_t, hi_t = max(ta, start), min(tb, end)
        if lo_t <= ta and hi_t >= tb:
            qty += inc
            measured += inc
            continue
        est = True
        inside = max(0.0, hi_t - lo_t)
        part = inc * inside / (tb - ta)
        lo, hi = 0.0, inc
        if rate_max is not None:
            lo = max(0.0, inc - rate_max * ((tb - ta) - inside))
            hi = min(inc, rate_max * inside)
            if lo > hi:  # the totals grew faster than the stated rate: fall back to what is certain
                lo, hi = 0.0, inc
        part = min(max(part, lo), hi)
        qty += part
        bound += max(part - lo, hi - part)
    complete = bool(pts) and pts[0][0] <= start and pts[-1][0] >= end
    return {"quantity": qty, "measured": measured, "estimated": est, "error_bound": bound, "resets": resets,
            "reports": len(pts), "complete": complete}


def samples_of(reports, meter: str):
    """(t, counter, epoch, value) of one meter from statement reports (their "fields" JSON text)."""
    out = []
    for r in reports:
        f = json.loads(r["fields"]) if isinstance(r["fields"], str) else r["fields"]
        v = f
        for part in meter.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        epoch = next((f[k] for k in EPOCH_KEYS if f.get(k) is not None), 0)
        out.append((f["ts"], r["counter"], epoch, v))
    return out


def _close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def verify_statement(st: dict, public_key_pem: bytes) -> list:
    """Every failure found, as one line each; empty when the statement checks."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    errs = []
    cp = st["checkpoint"]
    root = bytes.fromhex(cp["root"])
    try:
        load_pem_public_key(public_key_pem).verify(bytes.fromhex(cp["signature"]),
                                                   sth_message(cp["tree_size"], cp["timestamp"], root))
    except InvalidSignature:
        errs.append(f"checkpoint of size {cp['tree_size']}: signature does not verify under the given key")
    by_dev = {}
    for r in st["reports"]:
        lh = leaf_hash(leaf_input(r["device"], r["counter"], r["received"], bytes.fromhex(r["raw"]),
                                  bytes.fromhex(r["uplink"]), r["fields"]))
        got = root_from_inclusion(r["index"], cp["tree_size"], lh, [bytes.fromhex(p) for p in r["proof"]])
        if got != root:
            errs.append(f"device {r['device']} counter {r['counter']}: not in the ledger at leaf {r['index']} "
                        f"(the inclusion proof does not lead to the signed root)")
        by_dev.setdefault(r["device"], []).append(r)
    for ln in st["lines"]:
        for m in ln["meters"]:
            u = period_usage(samples_of(by_dev.get(ln["device"], []), m["meter"]), st["start"], st["end"],
                             m.get("rate_max"))
            if not (_close(u["quantity"], m["quantity"]) and _close(u["error_bound"], m["error_bound"])):
                errs.append(f"device {ln['device']} {m['meter']}: the proved reports give {u['quantity']:.9g} "
                            f"+- {u['error_bound']:.3g}, the statement says {m['quantity']:.9g} "
                            f"+- {m['error_bound']:.3g}")
    return errs


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Check a fieldnode usage statement (or consistency proof) offline.")
    p.add_argument("statement", help="the statement JSON (fieldnode usage --format json --with-proofs)")
    p.add_argument("--key", required=True, help="the collector's public key, PEM (fieldnode ledger key)")
    p.add_argument("--consistency", action="store_true", help="the file is a consistency proof, not a statement")
    a = p.parse_args(argv)
    try:
        with open(a.statement) as f:
            st = json.load(f)
        with open(a.key, "rb") as f:
            pem = f.read()
    except (OSError, ValueError) as e:
        print(f"error: cannot read input: {e}", file=sys.stderr)
        return 2
    try:
        if a.consistency:
            errs = verify_consistency_file(st, pem)
        else:
            errs = verify_statement(st, pem)
    except (KeyError, TypeError, ValueError) as e:
        print(f"error: {a.statement} is not a statement of this format: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    for e in errs:
        print(e)
    if not errs:
        print("ok: the new checkpoint extends the old one" if a.consistency else
              f"ok: {len(st['reports'])} report(s) proved in the signed tree, every line's quantity checks out")
    return 1 if errs else 0


def verify_consistency_file(doc: dict, public_key_pem: bytes) -> list:
    """A ``fieldnode ledger consistency`` document: both checkpoints signed, and the proof between them holds."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key, errs = load_pem_public_key(public_key_pem), []
    for which in ("old", "new"):
        cp = doc[which]
        try:
            key.verify(bytes.fromhex(cp["signature"]),
                       sth_message(cp["tree_size"], cp["timestamp"], bytes.fromhex(cp["root"])))
        except InvalidSignature:
            errs.append(f"{which} checkpoint (size {cp['tree_size']}): signature does not verify")
    o, n = doc["old"], doc["new"]
    if not check_consistency(o["tree_size"], n["tree_size"], bytes.fromhex(o["root"]), bytes.fromhex(n["root"]),
                             [bytes.fromhex(p) for p in doc["proof"]]):
        errs.append(f"the tree of size {n['tree_size']} does not extend the one of size {o['tree_size']}")
    return errs


if __name__ == "__main__":
    sys.exit(main())
