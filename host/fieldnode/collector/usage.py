"""Usage per device and period from the cumulative meter totals in stored reports, and invoice lines priced by a
tariff file (``fieldnode usage``).

Reports carry cumulative totals (run hours, kWh, cycles, ...), never increments, so a lost, repeated, delayed or
reordered report cannot change the usage between two that arrived: the arithmetic is
``ledger_verify.period_usage`` (the standalone verifier runs the same function on a statement's proved reports),
fed with (ts, counter, meter epoch, total) samples. A device replaced or reprovisioned starts a new meter epoch
(report field "meter_epoch", or "epoch"): its totals start from 0 again, never a negative usage. A period's
boundary between two reports is split linearly and the line says so ("estimated", with the error bound).

A tariff file (JSON):

    {"currency": "EUR", "minimum": 50.0,
     "meters": {"run_h":  {"unit": "h", "price": 2.5},
                "energy": {"unit": "kWh", "tiers": [{"upto": 1000, "price": 0.30}, {"price": 0.25}]}}}

``price`` per unit, or ``tiers``: graduated, each "upto" a cumulative quantity in the period, the last without
"upto"; ``minimum``: the least a device's line costs in a period. Without a tariff the lines carry quantities only.
"""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError, UsageError
from ..ledger_verify import EPOCH_KEYS, period_usage

# Meters fieldnode knows by name: unit and the most they can grow per second (run hours: 1 h per hour).
KNOWN = {"run_h": ("h", 1 / 3600), "energy": ("kWh", None), "cycles": ("", None), "volume": ("m3", None),
         "health.resets": ("", None), "health.dropped": ("", None)}
TAG_FACTS = ("customer", "contract", "site", "tags")


# --- periods ---
def zone(tz: str):
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {tz!r}", "give an IANA name such as Europe/Berlin or UTC")


def parse_period(text: str, tz: str = "UTC"):
    """(start, end) Unix seconds of a calendar period in ``tz``: "2026-11" (a month), "2026-11-05" (a day) or
    "2026-11-05T13" (an hour)."""
    z = zone(tz)
    try:
        if len(text) == 7:
            a = datetime.strptime(text, "%Y-%m")
            b = a.replace(year=a.year + a.month // 12, month=a.month % 12 + 1)
        elif len(text) == 10:
            a = datetime.strptime(text, "%Y-%m-%d")
            b = a + timedelta(days=1)
        elif len(text) == 13:
            a = datetime.strptime(text, "%Y-%m-%dT%H")
            s = a.replace(tzinfo=z).timestamp()
            return s, s + 3600  # an hour is 3600 s even across a clock change
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"period {text!r} is not a month, day or hour", "give 2026-11, 2026-11-05 or 2026-11-05T13")
    return a.replace(tzinfo=z).timestamp(), b.replace(tzinfo=z).timestamp()


# --- tariffs ---
def load_tariff(path) -> dict:
    """A tariff file, checked: ConfigError with one line naming the file and what is wrong."""
    try:
        with open(path) as f:
            t = json.load(f)
    except OSError as e:
        raise ConfigError(f"tariff {path}: cannot read it ({e.strerror})", "give the path of a tariff JSON file")
    except ValueError as e:
        raise ConfigError(f"tariff {path}: not JSON ({e})", "fix the syntax at that line")
    return check_tariff(t, path)


def _price(v, where, path):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"tariff {path}: {where} is {v!r}, not a price", "give a number >= 0 (per unit)")
    return float(v)


def check_tariff(t, path="tariff") -> dict:
    if not isinstance(t, dict):
        raise ConfigError(f"tariff {path}: the file is a {type(t).__name__}, not an object",
                          'write {"currency": ..., "meters": {...}}')
    extra = set(t) - {"currency", "minimum", "meters", "note"}
    if extra:
        raise ConfigError(f"tariff {path}: unknown key {sorted(extra)[0]!r}", "keys: currency, minimum, meters, note")
    cur = t.get("currency", "")
    if not isinstance(cur, str):
        raise ConfigError(f"tariff {path}: currency is {cur!r}", 'give a code such as "EUR"')
    minimum = _price(t.get("minimum", 0), "minimum", path)
    meters = t.get("meters")
    if not isinstance(meters, dict) or not meters:
        raise ConfigError(f"tariff {path}: no meters", 'add "meters": {"run_h": {"unit": "h", "price": 2.5}}')
    out = {}
    for name, m in meters.items():
        if not isinstance(m, dict):
            raise ConfigError(f"tariff {path}: meter {name!r} is not an object", 'give {"unit": ..., "price": ...}')
        bad = set(m) - {"unit", "price", "tiers", "max_rate"}
        if bad:
            raise ConfigError(f"tariff {path}: meter {name!r} has unknown key {sorted(bad)[0]!r}",
                              "keys: unit, price, tiers, max_rate")
        unit = m.get("unit", KNOWN.get(name, ("",))[0])
        if name in KNOWN and unit != KNOWN[name][0]:
            raise ConfigError(f"tariff {path}: meter {name!r} in {unit!r}, but reports count it in "
                              f"{KNOWN[name][0]!r}", f'write "unit": "{KNOWN[name][0]}" and a price per that')
        if ("price" in m) == ("tiers" in m):
            raise ConfigError(f"tariff {path}: meter {name!r} needs either price or tiers",
                              '"price": 2.5 or "tiers": [{"upto": 100, "price": 2.5}, {"price": 2.0}]')
        if "price" in m:
            tiers = [(None, _price(m["price"], f"meter {name!r} price", path))]
        else:
            if not isinstance(m["tiers"], list) or not m["tiers"]:
                raise ConfigError(f"tariff {path}: meter {name!r} tiers is not a list of tiers",
                                  '[{"upto": 100, "price": 2.5}, {"price": 2.0}]')
            tiers, last = [], 0.0
            for i, tier in enumerate(m["tiers"]):
                if not isinstance(tier, dict) or "price" not in tier:
                    raise ConfigError(f"tariff {path}: meter {name!r} tier {i + 1} has no price",
                                      'each tier is {"upto": quantity, "price": per unit}')
                upto = tier.get("upto")
                final = i == len(m["tiers"]) - 1
                if final and upto is not None:
                    raise ConfigError(f"tariff {path}: meter {name!r} last tier has an upto ({upto})",
                                      "leave upto out of the last tier: it takes everything above")
                if not final and (isinstance(upto, bool) or not isinstance(upto, (int, float)) or upto <= last):
                    raise ConfigError(f"tariff {path}: meter {name!r} tier {i + 1} upto {upto!r} is not above "
                                      f"{last:g}", "give each tier an upto larger than the one before")
                tiers.append((None if final else float(upto),
                              _price(tier["price"], f"meter {name!r} tier {i + 1} price", path)))
                last = float(upto) if upto is not None else last
        rate = KNOWN.get(name, (None, None))[1]  # per second; the file gives it per hour
        if m.get("max_rate") is not None:
            rate = _price(m["max_rate"], f"meter {name!r} max_rate", path) / 3600
        out[name] = {"unit": unit, "tiers": tiers, "rate_max": rate}
    return {"currency": cur, "minimum": minimum, "meters": out}


def price(qty: float, tiers) -> float:
    amount, below = 0.0, 0.0
    for upto, p in tiers:
        top = qty if upto is None else min(qty, upto)
        if top > below:
            amount += (top - below) * p
        if upto is None or qty <= upto:
            break
        below = upto
    return amount


# --- usage ---
def samples(rows, meter):
    """(t, counter, epoch, value) of ``meter`` (a field name; "health.x" inside the health block) from (counter,
    fields) rows, fields a dict."""
    parts = meter.split(".")
    out = []
    for ctr, f in rows:
        v = f
        for p in parts:
            v = v.get(p) if isinstance(v, dict) else None
        epoch = next((f[k] for k in EPOCH_KEYS if f.get(k) is not None), 0)
        out.append((f["ts"], ctr, epoch, v if isinstance(v, (int, float)) and not isinstance(v, bool) else None))
    return out


def bracket(rows, start, end):
    """The rows a period rests on: from the last at or before ``start`` to the first at or after ``end`` (times
    made non-decreasing in counter order, as period_usage does)."""
    tmax, ts = float("-inf"), []
    for _ctr, f in rows:
        tmax = max(tmax, f["ts"])
        ts.append(tmax)
    lo = max([i for i, t in enumerate(ts) if t <= start], default=0)
    hi = min([i for i, t in enumerate(ts) if t >= end], default=len(rows) - 1)
    return rows[lo:hi + 1]


def device_rows(store, device_id):
    rows, seen = [], set()
    for ctr, text in store.usage_rows(device_id):
        if ctr not in seen:
            seen.add(ctr)
            rows.append((ctr, json.loads(text)))
    return rows


# A run-time meter grows by at most one second per second, in its unit (firmware/nodelayout.py RUN_UNITS)
RUN_RATE = {"s": 1.0, "min": 1 / 60, "h": 1 / 3600}


def declared_meters(rows) -> dict:
    """{name: {"unit", "rate_max"}} of the usage meters a declared node's reports carry (decoded report key
    "meters": {name: {"kind", "unit"}}, host/fieldnode/node.py decode), in first-seen order."""
    out: dict = {}
    for _ctr, f in rows:
        for name, m in (f.get("meters") or {}).items():
            if name not in out:
                rate = RUN_RATE.get(m.get("unit")) if m.get("kind") == "runtime" else None
                out[name] = {"unit": m.get("unit", ""), "rate_max": rate}
    return out


def lines(store, registry, start, end, *, devices=None, tariff=None, meters=None, label=""):
    """Invoice lines: one per device with reports, each {"device", "tags", "period", "meters": [{"meter", "unit",
    "quantity", "basis", "error_bound", "reports", "complete", "amount"}], "amount", "minimum_applied"}, and the
    rows each rests on (for proofs): [(line, [(counter, fields)])]."""
    out = []
    for dev in devices if devices is not None else store.device_ids():
        rows = bracket(device_rows(store, dev), start, end)
        if not rows:
            continue
        declared = declared_meters(rows)
        names = list(tariff["meters"]) if tariff else (meters or list(declared) or [
            m for m in KNOWN if not m.startswith("health.") and any(s[3] is not None for s in samples(rows, m))])
        found = registry.find(dev) if registry is not None else None
        tags = {k: found.facts[k] for k in TAG_FACTS if found is not None and k in found.facts}
        line = {"device": dev, "tags": tags, "period": label, "start": start, "end": end, "meters": []}
        total = 0.0
        for name in names:
            spec = tariff["meters"][name] if tariff else declared.get(name) or {
                "unit": KNOWN.get(name, ("",))[0], "rate_max": KNOWN.get(name, (None, None))[1]}
            rate = spec["rate_max"] if spec["rate_max"] is not None else (declared.get(name) or {}).get("rate_max")
            u = period_usage(samples(rows, name), start, end, rate)
            m = {"meter": name, "unit": spec["unit"], "quantity": u["quantity"],
                 "basis": "estimated" if u["estimated"] else "measured", "error_bound": u["error_bound"],
                 "reports": u["reports"], "complete": u["complete"], "rate_max": rate}
            if tariff:
                m["amount"] = round(price(u["quantity"], spec["tiers"]), 2)
                total += m["amount"]
            line["meters"].append(m)
        if tariff:
            line["minimum_applied"] = total < tariff["minimum"]
            line["amount"] = round(max(total, tariff["minimum"]), 2)
            line["currency"] = tariff["currency"]
        out.append((line, rows))
    return out


CSV_COLUMNS = ("device", "customer", "tags", "period", "meter", "quantity", "unit", "basis", "error_bound", "reports",
               "complete", "amount", "currency")


def csv_rows(line):
    """Invoice CSV rows of one line: one per meter, and one "minimum" row when the monthly minimum tops it up."""
    tags = dict(line["tags"])
    base = {"device": line["device"], "customer": tags.pop("customer", ""),
            "tags": ";".join(f"{k}={v}" for k, v in sorted(tags.items())), "period": line["period"],
            "currency": line.get("currency", "")}
    for m in line["meters"]:
        yield dict(base, meter=m["meter"], quantity=f"{m['quantity']:.6f}", unit=m["unit"], basis=m["basis"],
                   error_bound=f"{m['error_bound']:.6f}", reports=m["reports"], complete=m["complete"],
                   amount="" if "amount" not in m else f"{m['amount']:.2f}")
    if line.get("minimum_applied"):
        top = line["amount"] - sum(m["amount"] for m in line["meters"])
        yield dict(base, meter="minimum", quantity="", unit="", basis="", error_bound="", reports="", complete="",
                   amount=f"{top:.2f}")
