"""The device's side of provisioning: what ``fieldnode provision`` runs on the board through the raw REPL, and how
its answer becomes pass/fail steps a technician can act on.

The test uplink is the firmware's own: a heartbeat report is appended to the device's flash queue (so its counter
comes from the queue, monotonic as every other report's) and ``App.uplink`` sends it with the key and link of the
new config, exactly as a wake cycle would. Only two things are narrowed for a technician waiting at the bench: the
attach deadline and the wait for the collector's reply. The link's ``info()`` afterwards gives the modem's
identities (ICCID, IMSI, IMEI, firmware), registration, operator and signal.
"""

import json

from . import modem
from .errors import DeviceError

# Run on the board. Prints one line "PROVISION:{json}"; everything else it prints is the firmware's own log.
DEVICE_TEST = """
import gc, json, time
import app, appconfig, board, measure
from store.kv import KV
from store.queue import Queue
from proto import codec, schema as S
_r = {}
def _run(dl_ms, reply_ms):
    a = app.App()
    cfg, problem = appconfig.load()
    if cfg is None or problem:
        _r['config'] = problem or 'no config'
        return
    if cfg.pop('node', None) is not None:  # validated; the test report is the fixed one
        gc.collect()  # the node's JSON and validator are garbage: free them before the modem driver loads
    a.kv = KV(app.STATE)
    a.pstate = a.kv.load({'resets': 0, 'cmd': 0})
    b = board.load()
    r = measure.take(b, cfg['vibration'], False)
    b.sensor_power(False)
    _r['sensors'] = {'temp_c100': r.temp_c100, 'batt_mv': r.batt_mv, 'errors': r.errors}
    q = Queue(app.QUEUE, app.QUEUE_BYTES)
    qs = q.stats()
    now = time.time()
    flags = S.FLAG_HEARTBEAT | (S.FLAG_SENSOR_ERR if r.errors else 0)
    health = (a.pstate.get('rssi', -128), qs['depth'], a.pstate.get('resets', 0), a.cause, qs['dropped'])
    _r['seq'] = q.append(codec.encode_report((now, flags, r.temp_c100, r.batt_mv, 0, 0, 0, 0), health))
    links = []
    make = a.make_link
    def _make(bb, lc):
        gc.collect()  # the modem driver is the largest import: free the measurement's garbage first
        l = make(bb, lc)
        up, send = l.up, l.send
        def _up(ms):
            t0 = time.ticks_ms()
            ok = up(min(ms, dl_ms))
            _r['up'] = ok
            _r['up_ms'] = time.ticks_diff(time.ticks_ms(), t0)
            return ok
        l.up = _up
        l.send = lambda data, ms: send(data, min(ms, reply_ms))
        down = l.down
        def _down(psm=True):
            _r['info'] = l.info()
            return down(psm)  # PSM when granted; a modem without PWRKEY only turns its radio off (net/cellular)
        l.down = _down
        links.append(l)
        return l
    a.make_link = _make
    _r['sent'] = a.uplink(b, cfg, q, now)
    _r['queue'] = q.stats()
    if links and 'info' not in _r:
        _r['info'] = links[0].info()
try:
    _run(%d, %d)
except Exception as e:
    _r['error'] = repr(e)
print('PROVISION:' + json.dumps(_r))
"""

# What the board holds before provisioning: its board file's name, the config's device id, firmware and key present.
DEVICE_STATE = """
import os, json
def _j(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
_b = _j('board.json')
_c = _j('config.json')
_l = os.listdir()
print(repr({'board': _b.get('name') if isinstance(_b, dict) else None,
            'device_id': _c.get('device_id') if isinstance(_c, dict) else None,
            'firmware': 'app.mpy' in _l or 'app.py' in _l, 'key': 'key.bin' in _l}))
"""


def run_test(dev, attach_s: float, reply_s: float) -> tuple[dict, list]:
    """Run the test uplink on the board: (result dict, the firmware's log lines)."""
    code = DEVICE_TEST % (int(attach_s * 1000), int(reply_s * 1000))
    out = dev.exec(code, timeout=int(attach_s + reply_s + 60))
    result, log = None, []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("PROVISION:"):
            result = json.loads(line[len("PROVISION:"):])
        elif line:
            log.append(line)
    if result is None:
        raise DeviceError(f"{dev.port}: the test uplink printed no result", f"it said: {out.strip()[-200:]!r}")
    return result, log


def _finding_todo(info: dict) -> str:
    """What to do, from modem.diagnose's plain-words findings."""
    for f in modem.diagnose(info, info.get("history"), info.get("errors")):
        if f.level == "error":
            return f.todo
    return ""


def link_steps(result: dict, cellular: bool, endpoint: str, reply_s: float) -> list:
    """Steps (name, status, detail, todo) from the device's test result. status: ok | failed | skipped | warning."""
    info = result.get("info") or {}
    text = " | ".join(info.get("errors") or []).lower()
    up = bool(result.get("up"))
    steps = []
    failed = False

    def add(name, ok, detail, todo=""):
        nonlocal failed
        status = "skipped" if failed else ("ok" if ok else "failed")
        steps.append((name, status, detail if status != "skipped" else "not tried", todo if status == "failed" else ""))
        failed = failed or status == "failed"

    if cellular:
        dead = "does not answer" in text
        model = (info.get("model") or "modem").upper()
        add("modem", not dead and bool(info.get("imei") or info.get("fw")),
            f"{model}, IMEI {info.get('imei')}, firmware {info.get('fw')}" if not dead else
            "the modem does not answer AT commands", _finding_todo(info) or "check the modem's power and UART")
        sim_bad = "sim" in text and ("no sim" in text or "sim failure" in text or "sim not ready" in text)
        add("sim", not sim_bad and bool(info.get("iccid") or info.get("imsi")),
            f"ICCID {info.get('iccid')}, IMSI {info.get('imsi')}" if not sim_bad else _first_error(info),
            _finding_todo(info) or "reseat the SIM")
        reg = info.get("registration")
        registered = reg in ("home", "roaming")
        dbm = info.get("dbm")
        add("network", registered, f"registered ({reg}) on {info.get('operator')}, "
                                   f"{'signal unknown' if dbm is None else f'{dbm} dBm'}" if registered else
            _first_error(info) or f"not registered ({reg})", _finding_todo(info))
        add("data", up, f"data connection up in {result.get('up_ms', 0) / 1000:.1f} s" if up else
            _first_error(info), _finding_todo(info) or "check APN, user and password")
    else:
        add("wifi", up, f"joined {info.get('ssid')} as {info.get('ip')}, {info.get('dbm')} dBm" if up else
            _first_error(info), "check --wifi-ssid and --wifi-key, and that the access point is in range")
    seq = result.get("seq")
    acked = (result.get("queue") or {}).get("acked", 0)
    ok = bool(result.get("sent")) and seq is not None and acked >= seq
    if ok:
        detail = f"test report (counter {seq}) acknowledged by the collector"
        todo = ""
    elif "socket open failed" in text or "can't resolve" in text:
        detail = f"the collector endpoint {endpoint} could not be reached: {_first_error(info)}"
        todo = "check --endpoint (host:port) and that the collector is running there"
    else:
        detail = f"no acknowledgement from the collector at {endpoint} within {reply_s:g} s"
        todo = ("start the collector (fieldnode collect) where --endpoint points, with this registry "
                "(same FIELDNODE_HOME); the test report stays queued on the device and goes with its next uplink")
    add("test report", ok, detail, todo)
    return steps


def _first_error(info: dict) -> str:
    errs = info.get("errors") or []
    return errs[-1] if errs else (info.get("last_error") or "")
