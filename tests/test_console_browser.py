"""The web console in a real browser: Debian's chromium driven by Selenium through chromium-driver (installed by
.ci/run), against a collector fed authenticated uplinks (console_util.Fleet). Skipped, saying why, where chromium
or its driver is absent. Screenshots of each view go to build/console/."""

import shutil
import tempfile

import pytest
from conftest import ROOT
from console_util import HOUR, Fleet
from fieldnode.collector import Servers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver; .ci/run does)")
SHOTS = ROOT / "build" / "console"


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e .[dev])")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fieldnode-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1200,1400"):
        opts.add_argument(a)
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(tmp_path):
    f = Fleet(tmp_path, n=3)
    f.hours(48)
    s = Servers(f.col, udp=-1, tcp=-1, http=0)
    yield f, s.console_url
    s.close()
    f.close()


def _wait(drv, cond, timeout=15):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the page re-draws itself on live updates: an element read mid-draw is read again
    return WebDriverWait(drv, timeout, poll_frequency=0.1, ignored_exceptions=(
        StaleElementReferenceException, NoSuchElementException)).until(lambda d: cond(d))


def _plots(drv):
    """{field: (the count the page says it drew, the points its polyline has)}, read in one go."""
    got = drv.execute_script(
        "return [...document.querySelectorAll('figure.plot')].map((f) => {const l = f.querySelector('polyline');"
        "return [f.dataset.field, +l.dataset.points, l.getAttribute('points').trim().split(/\\s+/).length];});")
    return {f: (a, b) for f, a, b in got}


def _health(drv, dev):
    from selenium.webdriver.common.by import By

    return drv.find_element(By.CSS_SELECTOR, f"#fleet tr[data-id='{dev}'] td:nth-child(2)").text


def test_fleet_to_device_plots_silence_and_live_alarm(browser, console):
    from selenium.webdriver.common.by import By

    fleet, url = console
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#fleet tbody tr"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")) == 3
    assert _health(browser, 101) == "ok"
    assert "T" in browser.find_element(By.CSS_SELECTOR, "#fleet time").text  # ISO 8601 in the browser's zone
    browser.save_screenshot(str(SHOTS / "fleet.png"))

    # click through to a device: a day of hourly reports is 25 points on every plot (the range includes both ends)
    browser.find_element(By.CSS_SELECTOR, "#fleet a[href='/devices/101']").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "figure.plot polyline"))
    assert browser.current_url.endswith("/devices/101")
    plots = _plots(browser)  # {field: (data-points, points drawn)}
    assert {"temp", "batt", "rms", "p2p", "zc", "band", "rssi", "qdepth", "resets"} <= set(plots)
    week = 48  # every report of the two days is inside the week range
    assert {plots[f] for f in ("temp", "batt", "rms", "p2p", "zc", "band")} == {(week, week)}
    assert plots["qdepth"] == (1 + 48 // 6,) * 2  # the health block: in the first report, then every 6th
    browser.save_screenshot(str(SHOTS / "device-week.png"))
    browser.find_element(By.CSS_SELECTOR, "button[data-range=day]").click()
    _wait(browser, lambda d: d.find_element(By.ID, "points").text.startswith("25 points"))
    assert _plots(browser)["temp"] == (25, 25)
    browser.save_screenshot(str(SHOTS / "device-day.png"))

    # device 103 stops; two days later (the collector's clock) the others still report: 103 turns silent, first
    browser.get(url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#fleet tbody tr"))
    fleet.hours(49, devices=[101, 102])
    _wait(browser, lambda d: "silent" in _health(d, 103))
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#fleet tbody tr").get_attribute("data-id") == "103")
    _wait(browser, lambda d: _health(d, 101) == "ok")  # first row: silent first; the others still ok

    # an alarm arrives while the page is open: the row shows it without a reload
    fleet.alarm(102)
    _wait(browser, lambda d: "alarm" in _health(d, 102))
    browser.save_screenshot(str(SHOTS / "fleet-silent-alarm.png"))

    browser.find_element(By.CSS_SELECTOR, "header a[href='/events']").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#events tr.ev-alarm"))
    _wait(browser, lambda d: all(w in d.find_element(By.CSS_SELECTOR, "#events tr.ev-alarm").text
                                 for w in ("102", "anomaly", "active")))
    fleet.clock.t += HOUR
    fleet.report(102)  # the next normal report clears it, live
    _wait(browser, lambda d: "cleared" in d.find_element(By.CSS_SELECTOR, "#events tr.ev-alarm").text)
    browser.save_screenshot(str(SHOTS / "events.png"))
