"""The auto-reset circuit of ESP32 dev boards, between a serial client's DTR/RTS lines and the chip's EN and IO0.

Two transistors cross-couple the lines: EN is low while RTS is asserted and DTR is not; IO0 is low while DTR is
asserted and RTS is not (both asserted, or neither: both high). The RC delay on EN means the chip samples the IO0
strap a few ms after EN rises, which esptool's reset sequence relies on: released with IO0 low, the chip starts
its ROM bootloader ("download mode"), otherwise the app from flash.

Over RFC 2217 every line change is a network round trip (pyserial's client waits ~50 ms for each answer), so the
strap counts as low when IO0 was low at any moment of a window ``STRAP_DELAY_S`` long after EN rose.
"""

import threading

STRAP_DELAY_S = 0.15


class AutoReset:
    """``on_en_low()`` when EN goes low (the chip stops); ``on_en_release()`` once the strap window after EN rose
    has passed (read ``io0_seen_low`` then: download mode or not). Both run on a timer or the client's thread."""

    def __init__(self, on_en_low, on_en_release):
        self.on_en_low = on_en_low
        self.on_en_release = on_en_release
        self.en_low = False
        self.io0_low = False
        self.io0_seen_low = False
        self._timer = None

    def lines(self, dtr: bool, rts: bool) -> None:
        """The client set its modem-control lines."""
        en_low = rts and not dtr
        self.io0_low = dtr and not rts
        if self.io0_low:
            self.io0_seen_low = True
        if en_low and not self.en_low:
            self.en_low = True
            if self._timer:
                self._timer.cancel()
            self.on_en_low()
        elif not en_low and self.en_low:
            self.en_low = False
            self.io0_seen_low = self.io0_low
            self._timer = threading.Timer(STRAP_DELAY_S, self.on_en_release)
            self._timer.start()

    def close(self) -> None:
        if self._timer:
            self._timer.cancel()
