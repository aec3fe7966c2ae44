"""Provision many devices in a row from a CSV, and export the SIMs for SORACOM.

    rows = read_batch("devices.csv")        # columns (all optional): port, board, device_id, apn, user, password,
                                            # wifi_ssid, wifi_key, endpoint, interval, name, tags ("k=v;k2=v2")
    run_batch(rows, "m5stack-core2", ProvisionOptions(), Registry(), "results.csv")
    export_soracom(Registry(), "sims.sh")   # or "sims.csv"

A row without a port takes the next board plugged in: a USB serial port that appears (one already there when the
batch starts counts as plugged in). A port that was provisioned is not taken again until it has gone away, so the
next board may be plugged into the same socket. The results CSV is rewritten (to a temporary name, then renamed)
after every device, so an interrupted batch keeps what it did.
"""

import csv
import io
import json
import os
import shlex
import time
from dataclasses import replace
from pathlib import Path

from .errors import ConfigError, FieldnodeError, NetworkError
from .provision import ProvisionOptions, provision
from .registry import parse_device_id

COLUMNS = ("port", "board", "device_id", "apn", "user", "password", "wifi_ssid", "wifi_key", "endpoint", "interval",
           "name", "tags")
RESULT_COLUMNS = ("row", "port", "device_id", "result", "failed_step", "message", "iccid", "imsi", "imei", "fw",
                  "board", "seconds")


def read_batch(path) -> list[dict]:
    """The rows of a batch CSV (a header line, then one device a line); ConfigError naming the bad column or row."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}", "give an existing CSV file")
    reader = csv.DictReader(io.StringIO(text))
    unknown = [c for c in reader.fieldnames or [] if c and c.strip() not in COLUMNS]
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {', '.join(unknown)}", f"allowed: {', '.join(COLUMNS)}")
    rows = []
    for n, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        try:
            if row.get("device_id"):
                row["device_id"] = parse_device_id(row["device_id"])
            if row.get("interval"):
                row["interval"] = int(row["interval"])
            row["tags"] = _tags(row.get("tags", ""))
        except (ValueError, FieldnodeError) as e:
            raise ConfigError(f"{path} line {n}: {e}", "fix that row")
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path} lists no devices", "one device a line under a header, e.g. port,device_id")
    return rows


def _tags(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise ValueError(f"tag {part!r} is not name=value")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def usb_ports() -> list[str]:
    """Serial ports of USB devices now plugged in (the boards' USB-UART bridges)."""
    from serial.tools import list_ports

    return [p.device for p in list_ports.comports() if p.vid is not None]


class PortWatcher:
    """Hands out ports as boards are plugged in; ``list_ports`` is injectable (tests, other kinds of port)."""

    def __init__(self, list_ports=usb_ports, poll_s: float = 0.5, settle_s: float = 0.0):
        self.list_ports = list_ports
        self.poll_s = poll_s
        self.settle_s = settle_s  # a board just plugged in is still booting
        self.done: set = set()

    def next(self, timeout_s: float) -> str:
        end = time.monotonic() + timeout_s
        while True:
            now = set(self.list_ports())
            self.done &= now  # a port that went away is free again
            fresh = sorted(now - self.done)
            if fresh:
                self.done.add(fresh[0])
                time.sleep(self.settle_s)
                return fresh[0]
            if time.monotonic() >= end:
                raise NetworkError(f"no board was plugged in within {timeout_s:g} s",
                                   "plug in the next board, or give a port column in the batch CSV")
            time.sleep(self.poll_s)


def _options(opts: ProvisionOptions, row: dict) -> ProvisionOptions:
    over = {k: row[k] for k in ("device_id", "apn", "user", "password", "wifi_ssid", "wifi_key", "endpoint",
                                "interval") if row.get(k) not in (None, "")}
    tags = dict(opts.tags, **row.get("tags", {}))
    if row.get("name"):
        tags["name"] = row["name"]
    return replace(opts, tags=tags, **over)


def run_batch(rows, board, opts, registry, results_path, port_timeout=300.0, progress=None, report=None,
              watcher=None) -> list[dict]:
    """Provision each row in turn; write the results CSV after each. Returns the result rows."""
    say = progress or (lambda msg: None)
    watcher = watcher or PortWatcher(settle_s=1.5)
    results = []
    for i, row in enumerate(rows, start=1):
        t0 = time.monotonic()
        res = {"row": i, "board": row.get("board") or board or ""}
        try:
            port = row.get("port")
            if not port:
                say(f"device {i} of {len(rows)}: plug in the next board")
                port = watcher.next(port_timeout)
            res["port"] = port
            say(f"device {i} of {len(rows)}: provisioning on {port}")
            rep = provision(port, row.get("board") or board, _options(opts, row), registry, progress=say)
            f = rep.failed_step
            res.update(device_id=rep.device_id, result="pass" if rep.passed else "fail",
                       failed_step=f.name if f else "", message=(f"{f.detail} -> {f.todo}" if f else "ok"),
                       board=rep.board, **{k: rep.facts.get(k, "") for k in ("iccid", "imsi", "imei", "fw")})
            if report:
                report(rep)
        except FieldnodeError as e:
            res.update(result="error", message=str(e))
            say(f"device {i} of {len(rows)}: {e}")
        res["seconds"] = round(time.monotonic() - t0, 1)
        results.append(res)
        write_results(results_path, results)
    return results


def write_results(path, results) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, RESULT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({k: r.get(k, "") for k in RESULT_COLUMNS})
    os.replace(tmp, path)


# -- SORACOM ---------------------------------------------------------------------------------------------------
def _sims(registry) -> list[dict]:
    out = []
    for d in registry.devices():
        f = d.facts
        if not (f.get("iccid") or f.get("imsi")):
            continue
        tags = {"name": f"fieldnode-{d.device_id}", "fieldnode_device_id": str(d.device_id),
                "board": f.get("board", ""), "imei": f.get("imei", "")}
        tags.update({k: str(v) for k, v in (f.get("tags") or {}).items()})
        out.append({"device_id": d.device_id, "iccid": f.get("iccid", ""), "imsi": f.get("imsi", ""), "tags": tags})
    return out


def export_soracom(registry, path) -> int:
    """Write the registry's SIMs for SORACOM: a CSV (``.csv``) or a shell script of ``soracom sims register`` and
    ``soracom sims put-tags`` commands (SORACOM CLI; the SIM id of a SORACOM IoT SIM is its ICCID). Registering
    needs each SIM's registration secret (the PASSCODE/PUK printed on its card); the script reads them from a
    CSV ``iccid,secret`` given as its argument and skips SIMs it has no secret for. Returns how many SIMs."""
    sims = _sims(registry)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    if p.suffix.lower() == ".csv":
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["device_id", "iccid", "imsi", "tags"])
            for s in sims:
                w.writerow([s["device_id"], s["iccid"], s["imsi"], json.dumps(s["tags"], sort_keys=True)])
    else:
        lines = ["#!/bin/sh",
                 "# SORACOM SIM registration for fieldnode devices (fieldnode provision --export-soracom).",
                 "# usage: sh THIS_FILE secrets.csv    (secrets.csv: iccid,secret per line; secret = the PASSCODE",
                 "#        or PUK printed on the SIM card). Needs the soracom CLI, logged in (soracom configure).",
                 "set -eu", 'SECRETS="${1:?give the CSV of iccid,secret}"',
                 'secret() { awk -F, -v id="$1" \'$1 == id { print $2 }\' "$SECRETS" | tr -d "\\r"; }', ""]
        for s in sims:
            sid = s["iccid"]
            tag_body = json.dumps([{"tagName": k, "tagValue": v} for k, v in sorted(s["tags"].items())])
            lines.append(f"# device {s['device_id']}: IMSI {s['imsi']}")
            if not sid:
                lines.append(f"# no ICCID recorded: register IMSI {s['imsi']} in the SORACOM console")
                lines.append("")
                continue
            lines += [f"s=$(secret {sid})",
                      f'if [ -n "$s" ]; then soracom sims register --sim-id {sid} --registration-secret "$s"; '
                      f'else echo "no secret for {sid}: skipped" >&2; fi',
                      f"soracom sims put-tags --sim-id {sid} --body {shlex.quote(tag_body)}", ""]
        tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, p)
    return len(sims)
