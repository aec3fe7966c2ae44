"""The report of a fleet run (``FleetRun.summary()``, fleet.py): ``format_summary`` as text, the table ``fieldnode sim
run`` prints; ``write_html`` as one self-contained HTML file (inline SVG, no scripts, no downloads) that opens in any
browser: the summary, and per device the readings, vibration features with the alarms the device raised, the
injected faults, and the battery.
"""

import html
import time

WIDTH, HEIGHT, PAD = 860, 220, 48
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _fmt_t(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(ts))


def line_chart(title: str, unit: str, series: list, markers: list = (), spans: list = (), hlines: list = ()) -> str:
    """``series``: [(name, [(t, value), ...])]; ``markers``: [(t, label, color)]; ``spans``: [(t0, t1, label)];
    ``hlines``: [(value, label)], thresholds drawn across the chart."""
    pts = [p for _, s in series for p in s]
    if not pts:
        return f"<h3>{html.escape(title)}</h3><p>no data</p>"
    t0 = min(p[0] for p in pts)
    t1 = max(max(p[0] for p in pts), t0 + 1)
    lo = min([p[1] for p in pts] + [v for v, _ in hlines])
    hi = max([p[1] for p in pts] + [v for v, _ in hlines])
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    span = hi - lo
    lo, hi = lo - 0.05 * span, hi + 0.05 * span

    def x(t):
        return PAD + (WIDTH - 2 * PAD) * (t - t0) / (t1 - t0)

    def y(v):
        return HEIGHT - PAD + (2 * PAD - HEIGHT) * (v - lo) / (hi - lo)

    out = [f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect x="{PAD}" y="{PAD // 2}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 1.5 * PAD}" fill="#fafafa" '
           f'stroke="#ccc"/>']
    for a, b, label in spans:
        xa, xb = x(max(a, t0)), x(min(b, t1))
        if xb > xa:
            out.append(f'<rect x="{xa:.1f}" y="{PAD // 2}" width="{xb - xa:.1f}" height="{HEIGHT - 1.5 * PAD}" '
                       f'fill="#fde0c5" opacity="0.6"><title>{html.escape(label)}</title></rect>')
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(f'<text x="{PAD - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
    for i in range(6):
        t = t0 + (t1 - t0) * i / 5
        out.append(f'<text x="{x(t):.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{_fmt_t(t)}</text>')
    for v, label in hlines:
        out.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#d62728" '
                   f'stroke-width="1"/><text x="{WIDTH - PAD - 4}" y="{y(v) - 4:.1f}" text-anchor="end" '
                   f'fill="#d62728">{html.escape(label)}</text>')
    for t, label, color in markers:
        if t0 <= t <= t1:
            out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{PAD // 2}" y2="{HEIGHT - PAD}" stroke="{color}" '
                       f'stroke-dasharray="4 3"><title>{html.escape(label)}</title></line>')
    for i, (name, s) in enumerate(series):
        if not s:
            continue
        c = COLORS[i % len(COLORS)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for j, (t, v) in enumerate(sorted(s)))
        out.append(f'<path d="{d}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        out.append(f'<text x="{PAD + 8 + 150 * i}" y="{PAD // 2 + 14}" fill="{c}">{html.escape(name)}</text>')
    out.append(f'<text x="{PAD}" y="{PAD // 2 - 6}" font-weight="bold">{html.escape(title)} ({html.escape(unit)})'
               f'</text></svg>')
    return "\n".join(out)


def device_section(dev: dict, reports: list, faults: list, t_start: float, thresholds: dict | None = None) -> str:
    alarms = [r for r in reports if set(r.get("flags") or []) & {"anomaly", "high"}]
    raised = []
    prev = False
    for r in reports:
        on = bool(set(r.get("flags") or []) & {"anomaly", "high"})
        if on and not prev:
            raised.append((r["ts"], "alarm raised", "#d62728"))
        if prev and not on:
            raised.append((r["ts"], "alarm cleared", "#2ca02c"))
        prev = on
    fault_marks, spans = [], []
    for f in faults:
        if f["kind"] == "bearing":
            fault_marks.append((t_start + f["at_s"], "bearing starts to fail", "#ff7f0e"))
        elif f["kind"] == "power_cut":
            fault_marks.append((t_start + f["at"], "power cut", "#7f7f7f"))
        elif f["kind"] == "outage":
            spans.append((t_start + f["from"], t_start + f["to"], "no coverage"))
    marks = fault_marks + raised
    series = lambda key, scale=1.0: [(r["ts"], r[key] * scale) for r in reports if r.get(key) is not None]  # noqa: E731
    parts = [f"<h2>device {dev['device']}</h2>",
             f"<p>{dev['generated']} reports generated, {dev['delivered']} delivered, {dev['queued']} queued, "
             f"{dev['duplicates']} duplicates, <b>{dev['lost']} lost</b>; {len(alarms)} reports in alarm; "
             f"{dev['bytes_sent']} bytes in {dev['uplinks']} uplinks; radio on {dev['radio_on_s']} s; "
             f"average {dev['average_ua']} uA ({dev['mah_per_day']} mAh/day), dominated by {dev['dominant']}; "
             f"battery {dev['battery_mah']} mAh lasts {dev['battery_days']} days.</p>",
             *_fixed_charts(reports, series, marks, spans, thresholds), *_node_charts(reports, series, marks, spans)]
    rows = "".join(f"<tr><td>{_fmt_t(t)}</td><td>{html.escape(label)}</td></tr>" for t, label, _ in sorted(marks))
    parts.append(f"<table><tr><th>time (UTC)</th><th>event</th></tr>{rows}</table>")
    return "\n".join(parts)


def _fixed_charts(reports, series, marks, spans, thresholds) -> list:
    """The fixed report's charts (vibration, temperature, battery), when the device sent fixed reports."""
    if reports and all("units" in r for r in reports):
        return []
    return [line_chart("Vibration", "milli-g", [("RMS", series("rms", 1000)), ("peak-to-peak / 4", [
                (t, v / 4) for t, v in series("p2p", 1000)]), ("band amplitude", series("band", 1000))],
                marks, spans, hlines=[(v, f"RMS limit {v} mg") for k, v in (thresholds or {}).items()
                                      if k == "rms_high_mg"]),
            line_chart("Temperature", "degC", [("temperature", series("temp"))], marks, spans),
            line_chart("Battery voltage (as the board's power chip reads it)", "V", [("battery", series("batt"))],
                       marks, spans)]


def _node_charts(reports, series, marks, spans) -> list:
    """A declared node's reports (firmware/node.py): one chart per field, titled with its name and unit, and the
    detectors' events in the time table."""
    fields: dict = {}
    for r in reports:
        for name, unit in (r.get("units") or {}).items():
            fields.setdefault(name, unit)
    out = []
    for name, unit in fields.items():
        out.append(line_chart(f"{name} ({unit})", unit, [(name, [(r["ts"], r[name]) for r in reports
                                                                  if (r.get("units") or {}).get(name) == unit])],
                              marks, spans))
    prev: set = set()
    for r in reports if fields else ():
        now = set(r.get("events") or [])
        marks.extend((r["ts"], f"{e} on", "#d62728") for e in sorted(now - prev))
        marks.extend((r["ts"], f"{e} off", "#2ca02c") for e in sorted(prev - now))
        prev = now
    return out


def write_html(path, summary: dict, reports: dict) -> None:
    """Write the report: ``summary`` from FleetRun.summary(), ``reports`` {device_id: [report dicts]}."""
    start = summary["start_ts"]
    body = [f"<h1>fieldnode: {html.escape(summary['scenario'])}</h1>",
            f"<p>{len(summary['devices'])} x {html.escape(summary['board'])}, "
            f"{human_duration(summary['duration_s'])} of virtual time simulated in {summary['wall_s']} s.</p>",
            "<pre>" + html.escape(format_summary(summary)) + "</pre>"]
    for dev in summary["devices"]:
        body.append(device_section(dev, reports.get(dev["device"], []), summary["faults"], start,
                                   summary.get("thresholds")))
    doc = ("<!doctype html><html><head><meta charset='utf-8'><title>fieldnode report</title><style>"
           "body{font-family:sans-serif;max-width:900px;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ddd;padding:2px 8px}</style></head><body>" + "\n".join(body) + "</body></html>")
    with open(path, "w") as f:
        f.write(doc)


def human_duration(seconds: float) -> str:
    """7 days, 36 h, 90 min: the largest unit that keeps the number readable."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:g} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def format_summary(s: dict) -> str:
    """The summary as a person reads it."""
    lines = [f"{s['scenario']}: {len(s['devices'])} x {s['board']}, {human_duration(s['duration_s'])} simulated "
             f"in {s['wall_s']} s" + (" (interrupted: what ran until Ctrl-C)" if s.get("interrupted") else "")]
    lines.append(f"{'device':>7} {'cycles':>6} {'gen':>5} {'deliv':>5} {'queued':>6} {'dup':>4} {'lost':>4} "
                 f"{'alarms':>6} {'first alarm':>19} {'bytes':>7} {'radio s':>8} {'avg uA':>8} {'mAh/day':>8} "
                 f"{'battery':>9}")
    for d in s["devices"]:
        fa = time.strftime("%Y-%m-%d %H:%M", time.gmtime(d["first_alarm_ts"])) if d["first_alarm_ts"] else "-"
        life = f"{d['battery_days'] / 365:.1f} y" if d["battery_days"] and d["battery_days"] > 365 else (
            f"{d['battery_days']:.0f} d" if d["battery_days"] else "-")
        lines.append(f"{d['device']:>7} {d['cycles']:>6} {d['generated']:>5} {d['delivered']:>5} {d['queued']:>6} "
                     f"{d['duplicates']:>4} {d['lost']:>4} {d['alarms']:>6} {fa:>19} {d['bytes_sent']:>7} "
                     f"{d['radio_on_s']:>8} {d['average_ua']:>8} {d['mah_per_day']:>8} {life:>9}")
    t = s["totals"]
    lines.append(f"total: {t['generated']} reports generated, {t['delivered']} delivered, {t['queued']} still "
                 f"queued, {t['duplicates']} duplicates, {t['lost']} lost; {t['alarms']} alarm reports; "
                 f"{t['bytes_sent']} bytes in {t['uplinks']} uplinks")
    if s["devices"]:
        d = s["devices"][0]
        lines.append(f"energy: dominated by {d['dominant']}; " + ", ".join(
            f"{k} {v:.0f} mC" for k, v in list(d["energy_parts_mc"].items())[:4]))
    for f in s["faults"]:
        lines.append("fault: " + ", ".join(f"{k}={v}" for k, v in f.items()))
    for d in s["devices"]:
        if "false_alarms" in d:
            delay = d["detection_delay_s"]
            lines.append(f"device {d['device']}: bearing fault " + (
                f"detected {delay / 60:.0f} min after it began" if delay is not None else "not detected") +
                f", {d['false_alarms']} false alarm reports before it")
    if s["rejects"]:
        lines.append(f"collector refused: {s['rejects']}")
    return "\n".join(lines)
