"""Downlink commands on the device: apply a verified batch to the persisted state in one step.

``apply(state, cmds)`` is pure: it returns the new state dict (never mutating the given one) and whether a reboot
was asked for. The caller saves the new state with store.kv (write-then-rename), so a batch is applied whole or not
at all, and the last applied command id is saved in the same write. Commands with an id at or below
state["cmd"] were applied before (a replayed or repeated reply) and are skipped. The next uplink carries
(state["cmd"], state["refused"]) as its command ack (proto.codec.encode_uplink's cmd_ack).
"""

from proto import codec

MAX_THRESHOLDS = 16
MIN_INTERVAL = 10  # seconds; a faster report interval would empty a battery in days
MAX_INTERVAL = 7 * 24 * 3600


def apply(state, cmds):
    """(new state, reboot requested). ``state`` keys used: cmd (last applied id), refused, interval,
    thr (dict index -> value), diag (send HEALTH next), upd (version of an offered app update)."""
    new = dict(state)
    thr = dict(state.get("thr") or {})
    last = state.get("cmd", 0)
    refused = 0
    reboot = False
    seen = False
    for cid, op, key, value in cmds:
        if cid <= last:
            continue
        seen = True
        last = cid
        if op == codec.OP_SET_THRESHOLD and 0 <= key < MAX_THRESHOLDS:
            thr[key] = value
        elif op == codec.OP_SET_INTERVAL and MIN_INTERVAL <= value <= MAX_INTERVAL:
            new["interval"] = value
        elif op == codec.OP_REBOOT:
            reboot = True
        elif op == codec.OP_DIAG:
            new["diag"] = 1
        elif op == codec.OP_UPDATE and value > 0:
            new["upd"] = value  # firmware/update.py fetches it in the next link sessions
        else:
            refused += 1
    if not seen:
        return state, False
    new["thr"] = thr
    new["cmd"] = last
    new["refused"] = refused
    return new, reboot


def cmd_ack(state):
    """The (id, refused) pair for the next uplink, or None when no command was ever applied."""
    cid = state.get("cmd", 0)
    if not cid:
        return None
    return (cid, state.get("refused", 0))
