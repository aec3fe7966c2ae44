"""A fleet of Wi-Fi boards: a scenario's outage fault takes the access point out of range (sim/wifi.py) over the
same window that it takes cellular coverage away from modem boards."""

from fieldnode.lab import scenario
from fieldnode.lab.fleet import FleetRun


def test_a_wifi_fleet_over_an_outage_loses_nothing_and_delivers_after_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FIELDNODE_HOME", str(home))
    # a report and an uplink every 20 minutes, retries at most 20 minutes apart; the access point is gone from
    # 2 h to 3 h 30 min
    scn = scenario.load({"board": "esp32-c3-devkitm", "devices": 2, "duration": "6h", "seed": 3,
                         "environment": {"preset": "quiet"},
                         "config": {"policy": {"sample_s": 600, "summary_s": 1200, "uplink_s": 1200,
                                               "max_backoff_s": 1200}},
                         "faults": [{"kind": "outage", "from": "2h", "to": "3h30m"}]})
    run = FleetRun(scn, home)
    try:
        s = run.run()
        t0 = run.t0_ms
        for d in run.devices:
            assert d.board.wifi.outages == [(t0 + 7_200_000, t0 + 12_600_000, None)]
        assert s["totals"]["lost"] == 0 and s["totals"]["duplicates"] == 0
        for d in run.devices:
            rows = run.reports(d.device_id)
            minutes = [((r["received"] * 1000 - t0) // 60_000, (r["ts"] * 1000 - t0) // 60_000) for r in rows]
            assert [r["counter"] for r in rows] == list(range(1, len(rows) + 1)), minutes  # no gap
            assert len(rows) == 18, minutes  # one report every 20 minutes for 6 h, all delivered
            # nothing arrives while the access point is out of range ...
            assert not [m for m in minutes if 120 <= m[0] < 210], minutes
            # ... and what was made meanwhile (queued in flash) goes out with the first uplink after it
            during = [m for m in minutes if 120 <= m[1] < 210]
            assert len(during) == 5 and {m[0] for m in during} == {220}, minutes
    finally:
        run.close()
