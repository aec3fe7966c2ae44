"""Compile the firmware for one or more boards: ``python tools/build_firmware.py [BOARD ...]``.

The logic lives in ``fieldnode.build`` so that ``fieldnode deploy`` builds the very same bundle.
"""

from fieldnode.build import main

if __name__ == "__main__":
    raise SystemExit(main())
