"""The console's JSON API and pages over HTTP (no browser): health words, events, login off loopback, sizes."""

import base64
import json
import urllib.error
import urllib.request

import pytest
from console_util import HOUR, Fleet
from fieldnode.collector import Servers
from fieldnode.errors import ConfigError


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path, n=3)
    f.hours(30)
    yield f
    f.close()


def _get(url, auth=None):
    req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def test_api_health_events_and_sizes(fleet):
    s = Servers(fleet.col, udp=-1, tcp=-1, http=0)
    try:
        u = s.console_url
        fleet.clock.t += 2 * 86400  # device 103 says nothing for two days, the others go on
        fleet.hours(1, devices=[101, 102])
        fleet.alarm(102)
        devs = {d["id"]: d for d in json.loads(_get(u + "api/devices"))["devices"]}
        assert devs[101]["health"] == ["ok"] and devs[103]["health"] == ["silent"]
        assert devs[102]["health"] == ["alarm"]
        assert devs[101]["rssi"] == -71 and devs[101]["days_left"] > 0 and devs[101]["interval_s"] == HOUR
        one = json.loads(_get(u + "api/devices/101?range=week"))
        assert one["points"] == len(one["t"]) == len(one["series"]["temp"]["values"]) == 31  # all of its reports
        assert sum(v is not None for v in one["series"]["qdepth"]["values"]) == 1 + 30 // 6  # health blocks
        assert len(json.loads(_get(u + "api/devices/101?range=day"))["t"]) == 1  # the two silent days
        assert one["series"]["temp"]["unit"] == "degC"
        ev = json.loads(_get(u + "api/events"))["events"]
        alarm = [e for e in ev if e["kind"] == "alarm"]
        assert alarm == [{"at": fleet.clock(), "device": 102, "kind": "alarm", "what": "anomaly",
                          "counter": fleet.ctr[102], "cleared": None}]
        assert sum(e["kind"] == "reset" for e in ev) == 3
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(u + "api/devices/101?range=year")
        assert e.value.code == 400
        page = _get(u)
        assert len(page) < 20_000 and b"/static/console.js" in page and b"http" not in page.split(b"<script")[0]
        assert len(_get(u + "static/console.js")) < 40_000
    finally:
        s.close()


def test_login_required_off_loopback(fleet):
    with pytest.raises(ConfigError, match="password"):
        Servers(fleet.col, host="0.0.0.0", udp=-1, tcp=-1, http=0)
    s = Servers(fleet.col, udp=-1, tcp=-1, http=0, password="s3cret")
    try:
        u = s.console_url
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(u + "api/devices")
        assert e.value.code == 401
        with pytest.raises(urllib.error.HTTPError):
            _get(u, "Basic " + base64.b64encode(b"ops:wrong").decode())
        ok = json.loads(_get(u + "api/devices", "Basic " + base64.b64encode(b"ops:s3cret").decode()))
        assert len(ok["devices"]) == 3
    finally:
        s.close()
