"""A board that resets in the middle of a verb ends the verb at once with one line, instead of the verb waiting for
ever while the node's own output (its cycle, after the reset) keeps the port busy."""

import pytest
from fieldnode.device import connect
from fieldnode.errors import DeviceError
from fieldnode.sim.board import VirtualBoard


@pytest.fixture
def chatty_board():
    b = VirtualBoard("m5stack-core2")
    b.put_files({"main.py": "import time\nwhile True:\n    print('cycling')\n    time.sleep_ms(100)\n"})
    b.start()
    yield b
    b.close()


@pytest.mark.parametrize("how", ["import machine\nmachine.reset()", "import time, machine\ntime.sleep_ms(50)\n"
                                 "machine.reset()"])
def test_a_reset_under_a_command_is_one_clear_error(chatty_board, how):
    with connect(chatty_board.port) as dev:
        assert dev.exec("print(6 * 7)").strip() == "42"
        with pytest.raises(DeviceError) as e:
            dev.exec(how, timeout=120)
    assert "reset while running the command" in str(e.value)
    assert "did not finish" not in str(e.value)  # it was seen as a reset, not waited out


def test_a_command_that_runs_too_long_is_interrupted_at_its_deadline(chatty_board):
    with connect(chatty_board.port) as dev:
        with pytest.raises(DeviceError) as e:
            dev.exec("while True:\n    pass", timeout=2)
        assert "did not finish within 2 s" in str(e.value)
        assert dev.exec("print('still here')").strip() == "still here"  # back at a fresh raw REPL prompt
