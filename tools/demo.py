"""make demo: until the full simulated run lands, one real wake cycle of the firmware on MicroPython."""

import os
import subprocess
import sys

from fieldnode.paths import FIRMWARE, micropython_cmd

env = dict(os.environ, MICROPYPATH=f"{FIRMWARE}:.frozen")
sys.exit(subprocess.call([micropython_cmd(), "-X", "heapsize=113664", str(FIRMWARE / "main.py")], env=env))
