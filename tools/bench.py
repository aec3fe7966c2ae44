"""``make bench``: run every benchmark module, print one table, write build/bench.json.

The contract, for anyone adding a benchmark: put a module ``tools/bench_<topic>.py`` next to this file that
exposes ``run() -> list[dict]``. Each dict is one row with the keys

- ``group``: what is measured (e.g. ``"core"``, ``"proto"``, ``"energy"``), rows are grouped by it;
- ``name``: the row's name within the group (e.g. ``"pass2 viper"``);
- ``value``: a number;
- ``unit``: its unit (e.g. ``"Msamples/s"``, ``"bytes"``, ``"uAh/day"``);

and any extra keys (ratios, notes), which go to the JSON and are shown in the table's last column. ``run``
prints progress on stderr if it takes long, and raises nothing for a missing optional tool: it returns a row
with ``value`` None and a ``note``. Speed is measured here, never asserted in tests.

    .venv/bin/python tools/bench.py [topic ...]     # default: every bench_*.py
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
KEYS = ("group", "name", "value", "unit")


def discover(topics=()):
    mods = sorted(TOOLS.glob("bench_*.py"))
    if topics:
        mods = [m for m in mods if m.stem[len("bench_"):] in topics]
    return mods


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def table(rows):
    lines = []
    w = max((len(r["name"]) for r in rows), default=4)
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            lines.append(f"== {group}")
        extra = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in KEYS)
        lines.append(f"  {r['name']:<{w}}  {_fmt(r['value']):>12} {r['unit']:<12} {extra}")
    return "\n".join(lines)


def main(argv=None):
    topics = (argv if argv is not None else sys.argv[1:])
    rows = []
    for path in discover(topics):
        t0 = time.monotonic()
        print(f"running {path.name} ...", file=sys.stderr)
        try:
            got = load(path).run()
        except Exception as e:  # one broken benchmark must not hide the others
            got = [{"group": path.stem[6:], "name": "error", "value": None, "unit": "", "note": str(e)}]
        for r in got:
            missing = [k for k in KEYS if k not in r]
            if missing:
                raise SystemExit(f"{path.name}: row {r} lacks {', '.join(missing)} (see tools/bench.py)")
        rows += got
        print(f"  {len(got)} rows in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    print(table(rows))
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
