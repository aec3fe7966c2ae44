"""The simulator: virtual boards running the real firmware on the MicroPython unix port, register-level sensor
models, AT-dialect modem models, and fleets on virtual time."""
