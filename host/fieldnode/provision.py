"""Provision a device: identity and key, config, the modem's identities, a test report the collector acknowledges.

For a field technician at the bench: one call (or ``fieldnode provision``) per device, a pass/fail report with
what failed and what to do::

    from fieldnode.provision import ProvisionOptions, provision
    from fieldnode.registry import Registry
    rep = provision("/dev/ttyUSB0", "m5stack-core2", ProvisionOptions(apn="soracom.io"), Registry())
    print(rep.summary())            # one line per step: ok / failed / skipped, and what to do
    rep.passed, rep.device_id, rep.facts["iccid"]

Order, so that nothing is lost and a power cut at any point is recoverable: the identity and its random 16-byte key
go into the registry first (the key never leaves the registry and the board: it is not printed, logged or put in
a report), then ``key.bin`` and then ``config.json`` are written on the board, each to a temporary name and
renamed. The test report goes through the device's own flash queue and the firmware's own uplink
(``provision_device``), so its counter is the next one of the device and the collector never sees a counter
reused. The facts (ICCID, IMSI, IMEI, firmware, board, when, who) are recorded in the registry, which keeps
history. A device whose config names a device id that the registry holds as provisioned is refused unless
``force``; one whose last provisioning failed is simply provisioned again with the same id and key.
"""

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import boards, provision_device
from .collector.db import Reader, Unreadable
from .device import Device, connect
from .errors import DeviceError, NetworkError, UsageError
from .paths import home
from .registry import Registry, default_who, parse_device_id

DEFAULT_ENDPOINT = "uni.soracom.io:23080"  # SORACOM Unified Endpoint, UDP (net/link.py PRESET)


class AlreadyProvisioned(UsageError):
    pass


@dataclass
class ProvisionOptions:
    device_id: int | None = None
    apn: str | None = None
    user: str | None = None
    password: str | None = None
    wifi_ssid: str | None = None
    wifi_key: str | None = None
    endpoint: str | None = None
    interval: int | None = None  # seconds between readings (policy.sample_s)
    collector: str | None = None  # http://host:port of a running collector, or its SQLite file
    force: bool = False
    start: bool = True  # reset the board when it passed, so that it begins its wake cycle
    attach_s: float = 120.0
    reply_s: float = 10.0
    who: str | None = None
    extra: dict = field(default_factory=dict)  # more config (policy, detector, alarm), merged under the above
    node: dict | None = None  # a declared node (fieldnode.node.check): what the device measures and reports
    tags: dict = field(default_factory=dict)  # recorded in the registry, exported for SORACOM


@dataclass
class Step:
    name: str
    status: str  # ok | failed | skipped | warning
    detail: str
    todo: str = ""


@dataclass
class ProvisionReport:
    port: str
    board: str
    device_id: int | None = None
    passed: bool = False
    steps: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    log: list = field(default_factory=list)
    started: bool = False
    seconds: float = 0.0
    who: str = ""

    def step(self, name, status, detail, todo=""):
        self.steps.append(Step(name, status, detail, todo))

    @property
    def failed_step(self):
        return next((s for s in self.steps if s.status == "failed"), None)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["failed_step"] = self.failed_step.name if self.failed_step else None
        return d

    def summary(self) -> str:
        lines = [f"fieldnode provision: device {self.device_id} on {self.port} ({self.board})"]
        for s in self.steps:
            lines.append(f"  {s.status:8}{s.name:13}{s.detail}")
            if s.todo:
                lines.append(f"  {'':8}{'':13}-> {s.todo}")
        if self.passed:
            tail = "; it restarted and begins its wake cycle" if self.started else ""
            lines.append(f"PASS  device {self.device_id} is provisioned{tail} ({self.seconds:.1f} s)")
        else:
            f = self.failed_step
            lines.append(f"FAIL  at {f.name if f else '?'}: fix that and run again (the device keeps id "
                         f"{self.device_id}) ({self.seconds:.1f} s)")
        return "\n".join(lines)


# -- config ---------------------------------------------------------------------------------------------------
def _firmware_modules():
    from . import fwbridge

    return fwbridge.load("appconfig"), fwbridge.load("net.link")


def build_config(opts: ProvisionOptions, device_id: int, board) -> dict:
    """The device's config.json, checked with the firmware's own validators (a bad value fails here, on the
    host, with the field named, and never reaches the board)."""
    appconfig, link = _firmware_modules()
    cellular = opts.wifi_ssid is None
    if not cellular and (opts.apn or opts.user or opts.password):
        raise UsageError("both Wi-Fi and APN settings given", "use --apn/--user/--password or --wifi-ssid/--wifi-key")
    if cellular and not board.get("modem"):
        raise UsageError(f"board {board.name} has no modem", "give --wifi-ssid and --wifi-key for a Wi-Fi board")
    if not cellular and not board.get("wifi"):
        raise UsageError(f"board {board.name} has no Wi-Fi", "give --apn (and --user/--password) instead")
    if not cellular and not opts.endpoint:
        raise UsageError("Wi-Fi needs the collector's address", "give --endpoint HOST:PORT, e.g. 192.168.1.10:23080")
    cfg = json.loads(json.dumps(opts.extra or {}))
    lk = dict(cfg.get("link") or {})
    if cellular:
        lk.update({"kind": "cellular", "endpoint": opts.endpoint or lk.get("endpoint") or DEFAULT_ENDPOINT})
        for k in ("apn", "user", "password"):
            if getattr(opts, k) is not None:
                lk[k] = getattr(opts, k)
    else:
        lk.update({"kind": "wifi", "ssid": opts.wifi_ssid, "key": opts.wifi_key or "", "endpoint": opts.endpoint})
    cfg["link"] = lk
    cfg["device_id"] = device_id
    if opts.node is not None:
        if opts.node["board"] != board.name:
            raise UsageError(f"node {opts.node['name']} is declared for board {opts.node['board']}, not {board.name}",
                             "give a node file whose \"board\" is this board")
        cfg["node"] = opts.node
        cfg["policy"] = dict(opts.node.get("policy") or {}, **(cfg.get("policy") or {}))
    if opts.interval is not None:
        cfg["policy"] = dict(cfg.get("policy") or {}, sample_s=opts.interval)
    cfg.setdefault("version", 1)
    try:
        appconfig.validate(cfg)
        check = {k: v for k, v in lk.items() if k not in ("kind", "ssid", "key")}
        link.config(check)
    except ValueError as e:
        raise UsageError(f"bad setting: {e.args[0] if e.args else e}", "fix the option named and run again")
    return cfg


# -- the collector, seen from the host ------------------------------------------------------------------------
def collector_counter(url: str, device_id: int | None = None, timeout: float = 3.0):
    """Reach the collector (``http://host:port`` of ``fieldnode collect`` or the path of its SQLite file) and
    return the last counter it stored for ``device_id`` (None if none). NetworkError when it cannot be reached."""
    if url.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/status", timeout=timeout) as r:
                st = json.loads(r.read())
        except (OSError, urllib.error.URLError, ValueError) as e:
            raise NetworkError(f"collector not reachable at {url}: {getattr(e, 'reason', e)}",
                               "start it (fieldnode collect) or fix --collector")
        devs = {d["device_id"]: d for d in st.get("devices", [])}
        return devs[device_id]["last_counter"] if device_id in devs else None
    p = Path(url)
    if not p.is_file():
        raise NetworkError(f"collector not reachable: no database at {url}",
                           "give --collector http://HOST:PORT of a running collector, or its SQLite file")
    try:
        return Reader(p, timeout).last_counter(device_id)
    except Unreadable as e:
        raise NetworkError(f"collector database {url} is unreadable: {e}", "is it a collector's database?")


def _continue_counters(dev, opts, device_id, rep):
    """A device provisioned again under an identity the collector knows (its flash erased, --force) would count
    from 1 again, and the collector refuses counters at or below the last it stored: number the device's next
    report above that one. Uses --collector, else the local collector's database when there is one."""
    src = opts.collector or (str(home() / "collector.sqlite") if (home() / "collector.sqlite").is_file() else None)
    if not src:
        return
    try:
        last = collector_counter(src, device_id)
    except NetworkError:
        return
    if not last:
        return
    moved = dev.value("import app\nfrom store.queue import Queue\n"
                      "print(repr(Queue(app.QUEUE, app.QUEUE_BYTES).skip_to(%d)))" % last)
    if moved:
        rep.step("counter", "ok", f"reports continue above counter {last}, the last the collector stored")


# -- provisioning -----------------------------------------------------------------------------------------------

def _identity(dev_state, opts, registry, board_name, who, rep):
    """(device id, key) for this board: reuse or allocate. Raises AlreadyProvisioned unless ``force``."""
    current = dev_state.get("device_id")
    try:
        current = parse_device_id(current) if current is not None else None
    except UsageError:
        current = None
    wanted = opts.device_id if opts.device_id is not None else current
    known = registry.find(wanted) if wanted is not None else None
    if known is not None:
        provisioned = known.facts.get("status") == "ok"
        if wanted != current and not opts.force:
            raise AlreadyProvisioned(f"device id {wanted} already belongs to another device in the registry",
                                     "leave out --device-id for the next free id, or pass --force to reuse it")
        if provisioned and not opts.force:
            when = known.facts.get("provisioned_at", "?")
            raise AlreadyProvisioned(f"device {wanted} on {rep.port} is already provisioned ({when}, by "
                                     f"{known.facts.get('provisioned_by', '?')})",
                                     "pass --force to provision it again; it keeps its id and key")
        rep.step("identity", "ok", f"device {wanted} (again; key kept from the registry)")
        return wanted, known.key
    new_id = wanted if opts.device_id is not None else max([d.device_id for d in registry.devices()] or [0]) + 1
    d = registry.add_device(new_id, who=who, board=board_name, status="provisioning")
    rep.step("identity", "ok", f"device {new_id} (new), key created and kept in the registry")
    return new_id, d.key


def provision(dev_or_port, board: str | None, options: ProvisionOptions | None = None,
              registry: Registry | None = None, progress=None) -> ProvisionReport:
    """Provision the board at ``dev_or_port`` (a port or an open ``Device``); ``board`` None takes the board
    file the firmware was deployed with. Returns the report; raises only for what stops before the board is
    touched (bad options, no board, already provisioned, collector not reachable)."""
    opts = options or ProvisionOptions()
    registry = registry if registry is not None else Registry()
    say = progress or (lambda msg: None)
    t0 = time.monotonic()
    who = opts.who or default_who()
    if opts.collector:
        collector_counter(opts.collector, None)  # unreachable: say so before touching the board
    dev = dev_or_port if isinstance(dev_or_port, Device) else None
    if dev is None:
        say(f"connecting to {dev_or_port}")
        dev = connect(dev_or_port)
    try:
        rep = ProvisionReport(dev.port, board or "?", who=who)
        return _provision(dev, board, opts, registry, say, rep, who, t0)
    finally:
        if not isinstance(dev_or_port, Device):
            dev.close()


def _provision(dev, board_name, opts, registry, say, rep, who, t0):
    st = dev.value(provision_device.DEVICE_STATE)
    if not st["firmware"] or not st["board"]:
        raise DeviceError(f"{dev.port} has no fieldnode firmware",
                          f"deploy it first: fieldnode deploy --board {board_name or 'NAME'} --port {dev.port}")
    if board_name and st["board"] != board_name:
        raise DeviceError(f"{dev.port} runs firmware deployed for {st['board']}, not {board_name}",
                          f"pass --board {st['board']}, or deploy for {board_name} first")
    b = boards.load(st["board"])
    rep.board = b.name
    rep.step("board", "ok", f"{b.name}, fieldnode firmware present")
    # Check the options before anything is stored (the id only names the config here).
    build_config(opts, opts.device_id or 1, b)
    device_id, key = _identity(st, opts, registry, b.name, who, rep)
    rep.device_id = device_id
    cfg = build_config(opts, device_id, b)
    if opts.node is not None:  # before the first node report: the collector decodes it by this (nodeview.py)
        from . import node as nodefile

        nodefile.register(registry, device_id, opts.node, who)
    say(f"device {device_id}: writing key.bin and config.json")
    dev.write_file("key.bin", key)
    dev.write_file("config.json", json.dumps(cfg, sort_keys=True).encode())
    lk = cfg["link"]
    how = f"cellular, APN {lk.get('apn', 'soracom.io')}" if lk["kind"] == "cellular" else f"Wi-Fi {lk['ssid']}"
    rep.step("config", "ok", f"key.bin and config.json written ({how}, collector {lk['endpoint']}"
                             + (f", every {opts.interval} s)" if opts.interval else ")"))
    _continue_counters(dev, opts, device_id, rep)
    say(f"device {device_id}: attaching and sending a test report (up to {opts.attach_s + opts.reply_s:g} s)")
    result, rep.log = provision_device.run_test(dev, opts.attach_s, opts.reply_s)
    if result.get("error") or result.get("config"):
        rep.step("test report", "failed", f"the firmware failed: {result.get('error') or result.get('config')}",
                 "deploy the firmware again (fieldnode deploy), then provision again")
    else:
        _sensors(rep, result.get("sensors") or {})
        for name, status, detail, todo in provision_device.link_steps(result, lk["kind"] == "cellular",
                                                                      lk["endpoint"], opts.reply_s):
            if name == "test report" and status == "failed" and any("reply refused" in ln for ln in rep.log):
                detail = "the collector answered, but its reply did not verify with this device's key"
                todo = "the collector must read this registry (same FIELDNODE_HOME, or --registry)"
            rep.step(name, status, detail, todo)
    info = result.get("info") or {}
    rep.facts = {k: info.get(k) for k in ("iccid", "imsi", "imei", "fw", "model", "operator", "dbm",
                                          "registration", "ssid", "ip") if info.get(k) is not None}
    rep.test = {"counter": result.get("seq"), "acked": (result.get("queue") or {}).get("acked"),
                "sent": result.get("sent", 0), **(result.get("sensors") or {})}
    if opts.collector and not rep.failed_step:
        last = collector_counter(opts.collector, device_id)
        ok = last is not None and rep.test["counter"] is not None and last >= rep.test["counter"]
        rep.step("collector", "ok" if ok else "failed",
                 f"{opts.collector} stored counter {last}" if ok else f"{opts.collector} has not stored it "
                                                                      f"(last counter {last})",
                 "" if ok else "the device was acknowledged by another collector: check --endpoint")
    rep.passed = rep.failed_step is None
    _record(registry, rep, lk, who, opts.tags)
    if rep.passed and opts.start:
        say(f"device {device_id}: restarting the board into its wake cycle")
        _reset(dev)
        rep.started = True
    rep.seconds = time.monotonic() - t0
    return rep


def _sensors(rep, s):
    if not s:
        return
    errs = s.get("errors") or []
    detail = f"{s.get('temp_c100', 0) / 100:.2f} C" + (f", battery {s['batt_mv'] / 1000:.2f} V" if s.get("batt_mv")
                                                        else "")
    if errs:
        rep.step("sensors", "warning", f"{', '.join(errs)} did not answer; {detail}",
                 "check the sensor's cable and its I2C address in the board file")
    else:
        rep.step("sensors", "ok", detail)


def _record(registry, rep, lk, who, tags):
    f = rep.failed_step
    facts = dict(rep.facts, board=rep.board, port=rep.port, link=lk["kind"], endpoint=lk["endpoint"],
                 status="ok" if rep.passed else "failed", failed_step=f.name if f else None,
                 provisioned_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), provisioned_by=who)
    if tags:
        facts["tags"] = dict(tags)
    if lk["kind"] == "cellular":
        facts["apn"] = lk.get("apn", "soracom.io")
    registry.set_facts(rep.device_id, who=who, **facts)
    rep.step("registry", "ok", "facts recorded (the registry keeps who changed what, and when)")


def _reset(dev):
    try:
        dev.t.exec_raw_no_follow("import machine\nmachine.reset()")
    except Exception:  # noqa: BLE001 - the board resetting under us is what was asked
        pass
    dev.t.in_raw_repl = False  # it is rebooting: no Ctrl-B on close


def load_extra(path) -> dict:
    """More config from a JSON file (policy, detector, alarm ...), for ``--config``."""
    from .jsonfile import read_object

    return read_object(path, "a JSON object of config sections", '{"policy": {"summary_s": 1800}}')
