# Power, DTR and down() of the cellular drivers (net/cellular.py): PWRKEY presses, the UART sleep's DTR line, and
# leaving the modem in PSM, with its radio off, or powered off.
#
# UART sleep (only with a dtr pin): the module's own sleep between paging occasions (SIM7080G AT+CSCLK=1, BG9x
# AT+QSCLK=1; SLEEP_ON) is what brings its idle current from several mA down to its DRX/eDRX figure during the PSM
# active time (T3324) and in eDRX. With it on, the module sleeps while DTR is high and its UART then hears nothing;
# DTR low wakes it. So up() first drives DTR low (awake), waits DTR_WAKE_MS and then talks; a module left asleep
# with DTR high by the previous cycle answers like any other. up() turns the sleep on; down() drives DTR high (may
# sleep) and holds that level through the MCU's deep sleep.
import time

from net.at import ATError


class Power:
    # Mixed into Cellular: uses its at, pwrkey, dtr, psm, sock, cfg, the family's timing constants and _power_off.
    def _power_on(self, dl):
        if self.at.sync(600 if self.dtr is None else self.DTR_SYNC_MS, dl):
            return True
        if self.pwrkey is None:
            return self.at.sync(max(0, min(self.BOOT_MS, self._left(dl))), dl)
        # PWRKEY: the GPIO drives the key low through the board's transistor while it is high. A press powers a
        # modem that is off on, and wakes one in PSM (hardware design manuals, power-on and PSM wake-up).
        self.pwrkey.value(1)
        time.sleep_ms(max(0, min(self.PWRKEY_MS, self._left(dl))))
        self.pwrkey.value(0)
        return self.at.sync(max(0, min(self.BOOT_MS, self._left(dl))), dl)

    # -- DTR ----------------------------------------------------------------------------------------------
    def _dtr_low(self):
        # Awake: DTR low wakes a module in UART sleep and keeps it awake (SIM7080G: LilyGO's T-SIM7080G sleep
        # examples, "Pulling DTR low in this mode can wake up the module"; BG96/BG77 Hardware Design 3.4.1,
        # "Driving the host DTR to low level will wake up the module"). The pad hold left by down() is released
        # with it (after a deep sleep the ESP32 keeps a held pad at its level until the hold is released).
        if self.dtr is None:
            return
        drive(self.dtr, 0, False)
        if self.DTR_WAKE_MS:
            time.sleep_ms(self.DTR_WAKE_MS)

    def _dtr_high(self):
        # May sleep: DTR high, held through the MCU's deep sleep. Without the hold the ESP32 lets the pin float in
        # deep sleep (MicroPython esp32 quickref, deep-sleep mode: "Non-RTC GPIO pins will be disconnected by
        # default"), and whatever the board's level converter makes of a floating line decides whether the module
        # sleeps. LilyGO's T-SIM7080G MinimalModemAndEspSleep does the same (gpio_hold_en on DTR high).
        if self.dtr is not None:
            drive(self.dtr, 1, True)

    # -- down ---------------------------------------------------------------------------------------------
    def down(self, psm=True):
        try:
            self._down(psm)
        finally:
            self._dtr_high()

    def _down(self, psm):
        dl = time.ticks_add(time.ticks_ms(), 15000)
        try:
            if self.sock:
                self._close(dl)
            if psm and self.psm is not None and self.psm["active_s"] is not None:
                # The modem enters PSM by itself when T3324 runs out after the last traffic; nothing to send.
                # Until then it is idle, asleep between paging occasions once DTR is high (UART sleep above).
                self.active = False
                return
            if self.pwrkey is None:
                # No PWRKEY line (M5Stack units on a Grove port): a modem powered off could never be switched on
                # again until the supply is cycled. Turn the radio off instead (AT+CFUN=0, TS 27.007 8.2): the
                # modem keeps answering AT, and up() turns the radio back on.
                self._cmd(b"AT+CFUN=0", 10000, dl)
            else:
                self._power_off(dl)
        except ATError as e:
            self._fail("power down: %s" % e)
            if self.pwrkey is not None:
                # A modem that does not answer is switched off with a long PWRKEY press.
                self.pwrkey.value(1)
                time.sleep_ms(self.PWRKEY_MS * 2)
                self.pwrkey.value(0)
        self.active = False
        self.sock = False



def drive(pin, level, hold):
    # Set the DTR pin's level and its pad hold (MicroPython esp32 Pin.init(..., hold=): the pad keeps its level
    # while held, through deep sleep on an RTC GPIO; other pads also need esp32.gpio_deep_sleep_hold(True)).
    try:
        pin.init(value=level, hold=hold)
    except TypeError:  # a port whose Pin has no pad hold (the host's virtual board): the level alone
        pin.value(level)
        return
    if hold:
        try:
            import esp32

            esp32.gpio_deep_sleep_hold(True)
        except (ImportError, AttributeError):  # not an ESP32, or a chip whose held pads need nothing more
            pass

