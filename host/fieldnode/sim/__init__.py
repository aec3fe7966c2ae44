"""The simulator: virtual boards running the real firmware on the MicroPython unix port, register-level sensor
models, AT-dialect modem models, and fleets on virtual time.

A virtual board (``board.VirtualBoard``) is its MicroPython process plus parts that each own their state:

- ``wiring``: the parts on its buses, from the board file (``fieldnode.parts``) and the scenario
  (``sensors/``, ``modems/``, ``physics`` with ``signals``);
- ``pins``: GPIO inputs, Pin.irq edges, wake sources; ``timebase``: the clock in microseconds, sleeps and skips;
- ``resets``: reset causes, the RTC domain, the watchdog, power faults; ``boardfs``: files on its littlefs root;
- ``hwbus`` (the bare bus: I2C, UART, GPIO, ADC, clock) and ``boardbus`` (the ops a board adds), speaking the op
  codes of ``mpy/_hwops.py`` (``hwops`` loads them on this side) to the ESP32 API shims in ``mpy/``;
- ``console`` (+ ``autoreset``, ``serialport``, ``rom``): the interactive board behind a pseudo-terminal and
  RFC 2217, for mpremote, ampy and esptool; ``forkserver``: fast headless starts.
"""
