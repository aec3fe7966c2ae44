"""Headless wake cycles: reset causes, wake reasons, RTC, watchdog, sleeps, NVS, partitions/OTA, Wi-Fi, energy."""

import pytest
from fieldnode.sim.board import DEEPSLEEP_RESET, EXT0_WAKE, HARD_RESET, PWRON_RESET, TIMER_WAKE, WDT_RESET, VirtualBoard


@pytest.fixture
def board(tmp_path):
    b = VirtualBoard("lowpower-ref", flash_dir=tmp_path)
    yield b
    b.close()


def test_deep_sleep_cycles_on_virtual_time(board):
    board.put_files({"main.py": "import machine, time\n"
                                "print('cause', machine.reset_cause(), 'wake', machine.wake_reason())\n"
                                "time.sleep_ms(250)\nmachine.deepsleep(600000)\n"})
    t0 = board.clock.now_ms()
    cycles = board.run(cycles=4)
    assert [c.end for c in cycles] == ["deepsleep"] * 4
    assert [c.reset_cause for c in cycles] == [PWRON_RESET] + [DEEPSLEEP_RESET] * 3
    assert "cause 4 wake 4" in cycles[2].output and cycles[2].wake_reason == TIMER_WAKE
    assert "cause 1 wake 0" in cycles[0].output
    # four awake spans of boot time + 250 ms, three sleeps of 10 minutes
    assert board.clock.now_ms() - t0 == 3 * 600000 + 4 * (board.boot_ms + 250)
    rep = board.energy.report(board.clock.now_ms())
    by = {(r["part"], r["state"]): r for r in rep["states"]}
    assert by[("mcu", "deep_sleep")]["ms"] == 3 * 600000
    active_ma = board.board.power("active_ma")
    sleep_ma = board.board.power("deep_sleep_ma")
    expect = (4 * (board.boot_ms + 250) * active_ma + 3 * 600000 * sleep_ma) / 1000.0
    mcu = sum(r["charge_mc"] for r in rep["states"] if r["part"] == "mcu")
    assert mcu == pytest.approx(expect)
    assert rep["charge_mc"] == pytest.approx(sum(r["charge_mc"] for r in rep["states"]))
    assert by[("mcu", "active")]["source"]


def test_pin_wakes_deep_sleep_early(board):
    board.put_files({"main.py": "import machine, esp32\nprint('wake', machine.wake_reason())\n"
                                "esp32.wake_on_ext0(machine.Pin(27), esp32.WAKEUP_ALL_LOW)\n"
                                "machine.deepsleep(3600000)\n"})
    c1 = board.run_cycle()
    board.set_pin(27, 1)
    board.set_pin(27, 0, at_ms=board.clock.now_ms() + 5000)
    t = board.clock.now_ms()
    board.sleep_until_wake(c1)
    assert board.clock.now_ms() - t == 5000
    c2 = board.run_cycle()
    assert c2.wake_reason == EXT0_WAKE and f"wake {EXT0_WAKE}" in c2.output


def test_watchdog_resets_a_stuck_firmware(board):
    board.put_files({"main.py": "import machine, time\nprint('cause', machine.reset_cause())\n"
                                "w = machine.WDT(timeout=2000)\n"
                                "if machine.reset_cause() != machine.WDT_RESET:\n"
                                "    while True:\n        time.sleep_ms(100)\n"
                                "machine.deepsleep(1000)\n"})
    c1 = board.run_cycle()
    assert c1.end == "wdt"
    c2 = board.run_cycle()
    assert c2.reset_cause == WDT_RESET and "cause 3" in c2.output and c2.end == "deepsleep"


def test_reset_lightsleep_unique_id_freq(board):
    board.put_files({"main.py": "import machine, time\nprint('cause', machine.reset_cause())\n"
                                "print('uid', machine.unique_id().hex(), machine.freq())\n"
                                "t = time.ticks_ms(); machine.lightsleep(1500)\n"
                                "print('slept', time.ticks_diff(time.ticks_ms(), t), machine.wake_reason())\n"
                                "try:\n    machine.freq(123)\nexcept ValueError as e:\n    print('freq', e)\n"
                                "if machine.reset_cause() != machine.HARD_RESET:\n    machine.reset()\n"})
    c1 = board.run_cycle()
    assert c1.end == "reset"
    assert f"uid {board.mac.hex()} 160000000" in c1.output
    assert "slept 1500 4" in c1.output and "freq frequency must be" in c1.output
    c2 = board.run_cycle()
    assert c2.reset_cause == HARD_RESET and c2.end == "exit"  # main.py returned: the board sits in the REPL


def test_nvs_survives_resets_and_erase_flash_clears_it(board):
    board.put_files({"main.py": "import esp32\nn = esp32.NVS('app')\n"
                                "try:\n    c = n.get_i32('boots')\nexcept OSError as e:\n    print('err', e.errno)\n"
                                "    c = 0\n"
                                "n.set_i32('boots', c + 1); n.set_blob('key', b'\\x01\\x02'); n.commit()\n"
                                "buf = bytearray(8)\nprint('boots', c + 1, n.get_blob('key', buf))\n"})
    assert "err -4354" in board.run_cycle().output  # ESP_ERR_NVS_NOT_FOUND
    assert "boots 2 2" in board.run_cycle().output
    nvs = next(p for p in board.partitions if p.label == "nvs")
    board.flash.erase(nvs.offset, nvs.size)
    assert "err -4354" in board.run_cycle().output


def test_partitions_and_ota_with_rollback(tmp_path):
    b = VirtualBoard("lowpower-ref", flash_dir=tmp_path, partitions="ota")
    try:
        b.put_files({"main.py": "import esp32, machine\nr = esp32.Partition(esp32.Partition.RUNNING)\n"
                                "print('running', r.info()[4])\n"
                                "if r.info()[4] == 'ota_0':\n"
                                "    nxt = r.get_next_update(); nxt.writeblocks(0, b'\\xe9' * 4096)\n"
                                "    buf = bytearray(4); nxt.readblocks(0, buf); print('wrote', buf)\n"
                                "    nxt.set_boot(); machine.reset()\n"
                                "elif open('/confirm').read() == 'yes':\n"
                                "    esp32.Partition.mark_app_valid_cancel_rollback(); print('valid')\n"})
        b.put_files({"confirm": "no"})
        c1 = b.run_cycle()
        assert "running ota_0" in c1.output and "wrote bytearray(b'\\xe9\\xe9\\xe9\\xe9')" in c1.output
        c2 = b.run_cycle()
        assert "running ota_1" in c2.output  # booted the new image, pending verification
        c3 = b.run_cycle()
        assert "running ota_0" in c3.output  # it did not confirm itself: rolled back
        assert b.flash.read(0x190000, 4) == b"\xe9" * 4
    finally:
        b.close()
    f = VirtualBoard("lowpower-ref", flash_dir=tmp_path / "f")
    try:
        f.put_files({"main.py": "import esp32\nprint([p.info()[4] for p in esp32.Partition.find(1)])\n"
                                "try:\n    esp32.Partition.mark_app_valid_cancel_rollback()\n"
                                "except OSError as e:\n    print('err', e.args[0])\n"})
        out = f.run_cycle().output
        assert "['nvs', 'phy_init', 'vfs']" in out and "err -261" in out
    finally:
        f.close()


def test_wlan_connects_after_virtual_delay_and_reports_failures(tmp_path):
    sc = {"wifi": {"aps": [{"ssid": "farm", "key": "pw", "rssi": -61, "channel": 11, "security": 3}],
                   "connect_ms": 2000}}
    b = VirtualBoard("esp32-c3-devkitm", flash_dir=tmp_path, scenario=sc)
    try:
        b.put_files({"main.py": "import network, time\nw = network.WLAN(network.STA_IF)\n"
                                "try:\n    w.connect('farm', 'pw')\nexcept OSError as e:\n    print('inactive', e)\n"
                                "w.active(True)\nprint([s[0] for s in w.scan()])\n"
                                "w.connect('farm', 'bad')\n"
                                "while w.status() == network.STAT_CONNECTING:\n    time.sleep_ms(100)\n"
                                "print('bad', w.status())\nt = time.ticks_ms(); w.connect('farm', 'pw')\n"
                                "while not w.isconnected():\n    time.sleep_ms(100)\n"
                                "print('ok', time.ticks_diff(time.ticks_ms(), t), w.ifconfig()[0], "
                                "w.status('rssi'), w.config('channel'))\n"})
        out = b.run_cycle().output
        assert "inactive Wifi Not Started" in out
        assert "[b'farm']" in out and "bad 202" in out
        assert "ok 2000 192.168.4.23 -61 11" in out
        rep = b.energy.report(b.clock.now_ms())
        assert any(r["part"] == "wifi" and r["state"] == "connecting" and r["ms"] == 4000 for r in rep["states"])
    finally:
        b.close()


def test_corrupted_filesystem_is_reported_never_erased(board):
    off = next(p.offset for p in board.partitions if p.label == "vfs")
    board.flash.program(off, b"not a filesystem")
    c = board.run_cycle()
    assert c.end == "fs_corrupted" and "filesystem appears to be corrupted" in c.output
    assert board.flash.read(off, 16) == b"not a filesystem"


def test_bad_board_name_is_a_clear_error():
    from fieldnode.errors import ConfigError

    with pytest.raises(ConfigError, match="no board named"):
        VirtualBoard("no-such-board")
