"""``fieldnode sim board``: starts a board, prints where it listens, refuses bad input with one line."""

import os
import threading

import pytest
from fieldnode.cli import build_parser, main
from fieldnode.cli.sim import run_board


def test_sim_board_starts_and_prints_ports(tmp_path, capsys):
    args = build_parser().parse_args(["sim", "board", "--board", "esp32-c3-devkitm", "--flash", str(tmp_path),
                                      "--quiet"])
    stop = threading.Event()
    seen = {}

    def ready(board):
        seen["port"], seen["url"] = board.port, board.url
        assert os.path.exists(board.port)
        stop.set()

    assert run_board(args, ready=ready, stop_event=stop) == 0
    out = capsys.readouterr().out
    assert seen["port"] in out and seen["url"].startswith("rfc2217://127.0.0.1:") and seen["url"] in out
    assert (tmp_path / "flash.bin").stat().st_size == 4 << 20


@pytest.mark.parametrize("argv, msg", [
    (["sim", "board", "--board", "nope"], "no board named 'nope'"),
    (["sim", "board", "--board", "esp32-c3-devkitm", "--speed", "-1"], "must be a positive factor"),
])
def test_sim_board_bad_input_is_one_line(argv, msg, capsys):
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
