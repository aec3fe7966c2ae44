"""fieldnode: field sensor nodes on ESP32/M5Stack with LTE-M/NB-IoT.

The host side: a library (flash, deploy, provision, monitor, collect, simulate) with a thin CLI on top.
"""

__version__ = "0.1.0"
