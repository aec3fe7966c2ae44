"""Power cuts at random instants, also inside flash block writes, leave a littlefs volume that mounts, with each
file either as before or as after a completed write-then-rename."""

import random

from fieldnode.sim.board import PWRON_RESET, VirtualBoard

MAIN = """
import os, machine

def save(name, data):
    with open(name + '.tmp', 'wb') as f:
        f.write(data)
    os.rename(name + '.tmp', name)

try:
    with open('gen') as f:
        gen = int(f.read())
except OSError:
    gen = 0
gen += 1
for k, size in (('a', 300), ('b', 2500), ('c', 9000)):
    save(k, bytes([gen & 0xFF]) * (size + 37 * gen))
save('gen', str(gen))
machine.deepsleep(1000)
"""


def version(board, name):
    """The generation a file holds, checking that it is one whole version (uniform bytes, the right length)."""
    data = board.read_file(name)
    size = {"a": 300, "b": 2500, "c": 9000}[name]
    g = data[0]
    assert data == bytes([g]) * (size + 37 * g), f"{name} is torn: {len(data)} bytes, first {g}"
    return g


def test_power_cuts_at_random_instants_keep_files_whole(tmp_path):
    rng = random.Random(4)
    board = VirtualBoard("lowpower-ref", flash_dir=tmp_path)
    try:
        board.put_files({"main.py": MAIN})
        first = board.run_cycle()
        assert first.end == "deepsleep"
        done = 1
        cuts = 0
        for _ in range(14):
            board.sleep_until_wake(first)
            board.cut_power_after_writes(rng.randint(1, 60))
            c = board.run_cycle()
            if c.end == "powercut":
                cuts += 1
                board.cut_power_after_writes(None)
            else:
                assert c.end == "deepsleep"
                done += 1
            gen = int(board.read_file("gen"))
            assert gen in (done, done - 1) or c.end == "powercut"
            for name in "abc":
                v = version(board, name)
                # each file is the generation before this cycle or the one it was writing
                assert v in (gen, gen + 1), (name, v, gen)
            done = gen
            # and the board boots again on that volume: it mounts, the firmware runs
            assert not any(e.get("text") == "fs:corrupted" for e in c.events)
        assert cuts >= 5, "the random cut points should land inside most cycles"
        after = board.run_cycle()
        assert after.reset_cause in (PWRON_RESET, 4)
        assert after.end == "deepsleep"
        assert any(e.get("text") == "boot:mounted" for e in after.events)
    finally:
        board.close()


def test_power_cut_loses_rtc_memory_but_deep_sleep_keeps_it(tmp_path):
    board = VirtualBoard("lowpower-ref", flash_dir=tmp_path)
    try:
        board.put_files({"main.py": "import machine\nr = machine.RTC()\nprint('mem', r.memory())\n"
                                    "r.memory(b'kept')\nprint('cause', machine.reset_cause())\n"
                                    "machine.deepsleep(5000)\n"})
        c1 = board.run_cycle()
        board.sleep_until_wake(c1)
        c2 = board.run_cycle()
        assert "mem b'kept'" in c2.output and "cause 4" in c2.output
        board.cut_power_at(board.clock.now_ms())
        c3 = board.run_cycle()
        assert c3.end == "powercut"
        c4 = board.run_cycle()
        assert "mem b''" in c4.output and "cause 1" in c4.output
    finally:
        board.close()
