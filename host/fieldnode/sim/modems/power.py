"""What a cellular module draws between a node's wakes: idle with the (extended) DRX cycle, and the periodic
tracking-area update (TAU) that wakes it from PSM. Each figure says where it comes from.

The board file gives the currents of the states a board fixes (off, PSM, awake idle, connected, transmitting, see
``sim/energy.py``). What depends on what the network granted is worked out here:

* **Idle with sleep (DRX).** Between paging occasions the module sleeps at a floor current; at each paging
  occasion (PO) it wakes and listens, which costs a charge ``po_mc``. The average is ``floor + po_mc / cycle``. The
  datasheets give one average at one DRX cycle; ``po_mc`` is solved from it.
* **Idle with eDRX.** The same module listens only inside the paging time window (PTW) of each eDRX cycle, at the
  DRX cycle there (3GPP TS 23.682 4.5.13.1, TS 36.304 7.3): ``floor + po_mc * POs_per_PTW / eDRX_cycle``.
* **Periodic TAU.** A short connected burst: ``tau_mc`` in ``tau_ms``.

Charges are in mC (mA x s), currents in mA, times in ms, as in ``sim/energy.py``.
"""

from dataclasses import dataclass

# -- the figures -----------------------------------------------------------------------------------------------
# nRF9160 Product Specification, "Modem current consumption" (the only LTE-M part we found that publishes a TAU):
# PSM TAU event Cat-M1 105 mJ in 1.5 s, Cat-NB1 550 mJ in 2.7 s (Pout 23 dBm); uplink RMC at 23 dBm 100-115 mA
# (105 mA on B20); eDRX 655 s average 6 uA (Cat-M1). Nordic measures at 3.7 V on VDD (Online Power Profiler for
# LTE, "Test setup"), so the energies are charges of E / 3.7 V.
NRF9160_VDD_V = 3.7
NRF9160_TAU_M1_MC = 105.0 / NRF9160_VDD_V  # 28.4 mC
NRF9160_TAU_M1_MS = 1500
NRF9160_TAU_NB_MC = 550.0 / NRF9160_VDD_V  # 148.6 mC
NRF9160_TAU_NB_MS = 2700
NRF9160_TX23_MA = 105.0  # IRMC_23DBM, B20

# Floor between paging occasions: not published for the SIM7080G or the BG9x. Two vendor specifications give both
# a DRX and an eDRX average for a similar module, which fixes floor and PO charge of that module: SIMCom SIM7028
# (DRX 0.11 mA at 2.56 s; eDRX 0.018 mA at 163.84 s, PTW 25.6 s) gives about 1 uA; Quectel BC260Y-CN (0.11 mA at
# DRX 2.56 s, 0.038 mA at eDRX 40.96 s, PTW not given, so one PO per window) gives at most 33 uA. The higher is
# used, so eDRX is credited with less than those parts achieve.
FLOOR_MA = 0.033


@dataclass(frozen=True)
class Profile:
    """One module's figures. ``sleep_ma`` is idle with sleep enabled at the DRX cycle ``sleep_drx_ms``."""

    name: str
    sleep_ma: float
    sleep_drx_ms: int
    tx23_ma: float  # transmit at 23 dBm: scales the TAU charge from the nRF9160's
    source: str
    floor_ma: float = FLOOR_MA

    @property
    def po_mc(self) -> float:
        """Charge of one paging occasion (mC), solved from the datasheet's sleep average."""
        return (self.sleep_ma - self.floor_ma) * self.sleep_drx_ms / 1000.0

    def drx_ma(self, drx_ms: int) -> float:
        """Average idle current with sleep at DRX cycle ``drx_ms``."""
        return self.floor_ma + self.po_mc / (drx_ms / 1000.0)

    def edrx_ma(self, cycle_ms: int, ptw_ms: int, drx_ms: int) -> float:
        """Average idle current with eDRX: one PO per DRX cycle inside the PTW, none outside. An eDRX cycle not
        longer than the DRX cycle is plain DRX (TS 36.304 7.3: eDRX applies only above the paging cycle)."""
        if cycle_ms <= drx_ms:
            return self.drx_ma(drx_ms)
        pos = max(1, min(ptw_ms, cycle_ms) // drx_ms)
        return min(self.drx_ma(drx_ms), self.floor_ma + self.po_mc * pos / (cycle_ms / 1000.0))

    def tau(self, nbiot: bool = False) -> tuple[int, float]:
        """(ms, mC) of one periodic TAU burst. Not published for SIMCom or Quectel modules: the nRF9160's TAU
        (duration and charge) scaled by this module's 23 dBm transmit current over the nRF9160's, which counts
        the whole burst as if it drew in proportion to the transmitter, the conservative side."""
        scale = self.tx23_ma / NRF9160_TX23_MA
        if nbiot:
            return NRF9160_TAU_NB_MS, NRF9160_TAU_NB_MC * scale
        return NRF9160_TAU_M1_MS, NRF9160_TAU_M1_MC * scale

    def tau_source(self, nbiot: bool = False) -> str:
        cat = "Cat-NB1 550 mJ / 2.7 s" if nbiot else "Cat-M1 105 mJ / 1.5 s"
        return (f"{self.name}: TAU not published; nRF9160 PS 'Modem current consumption' ({cat} at 3.7 V) x "
                f"{self.tx23_ma:g} mA / {NRF9160_TX23_MA:g} mA transmit at 23 dBm")

    def idle_source(self, what: str) -> str:
        return (f"{self.name}: {what} from {self.source}; floor between paging occasions {self.floor_ma * 1000:g} uA "
                "(not published; BC260Y-CN spec, the higher of two similar parts)")


# SIMCom SIM7080G. Sleep: 600 uA and PSM 3.2 uA are SIMCom's product-page figures for the SIM7080, as LilyGO's
# maintainer quotes them (Xinyuan-LilyGO/LilyGo-T-SIM7080G#117); the DRX cycle is not stated, so it is taken as
# the longest LTE-M paging cycle, 2.56 s (TS 36.331 defaultPagingCycle rf256): that gives the larger PO charge
# and so the higher current at shorter cycles. Transmit 220 mA at 23 dBm: SIM7080G Hardware Design V1.04, current
# consumption table, as the board files cite it (the PDF was not reachable to check it again).
SIM7080G = Profile("SIM7080G", sleep_ma=0.6, sleep_drx_ms=2560, tx23_ma=220.0,
                   source="SIMCom SIM7080 product page: sleep 600 uA (DRX cycle not stated, 2.56 s assumed)")

# Quectel BG95. The BG95's sleep-state current at a given DRX cycle was not reachable (the BG95 LPWA Specification V2.0
# gives only the awake idle, 18.9 mA at DRX 1.28 s). Used instead: the highest sleep figure among the LTE-M modules we
# could read, SIMCom SIM7000 Series Hardware Design V1.09, table 34 "LTE sleep mode" 1.2 mA (@DRX 2.56 s, table 2) -
# conservative. Transmit: BG95 Series Hardware Design V1.5 table 42, "LTE Cat M1 data transfer (GNSS OFF) B1 @ 21.29 dBm
# 193.65 mA", as a public module comparison quotes it (the PDF was not reachable); the board file's own figure is 190
# mA.
BG95 = Profile("BG95", sleep_ma=1.2, sleep_drx_ms=2560, tx23_ma=193.65,
               source="not reachable for the BG95; SIMCom SIM7000 HD V1.09 table 34, LTE sleep 1.2 mA @ DRX 2.56 s "
                      "(conservative stand-in)")

# Quectel BG96 and BG77: their hardware designs' current tables (BG96 HD table "current consumption", BG77 HD
# chapter 6) were not reachable, so each gets the BG95's stand-ins, under its own name so that a report says which
# module's figure is a stand-in (the energy report carries the source).
BG96 = Profile("BG96", sleep_ma=1.2, sleep_drx_ms=2560, tx23_ma=193.65,
               source="BG96 Hardware Design current table not reachable; the BG95 stand-in (SIMCom SIM7000 HD V1.09 "
                      "table 34, LTE sleep 1.2 mA @ DRX 2.56 s)")
BG77 = Profile("BG77", sleep_ma=1.2, sleep_drx_ms=2560, tx23_ma=193.65,
               source="BG77 Hardware Design current table not reachable; the BG95 stand-in (SIMCom SIM7000 HD V1.09 "
                      "table 34, LTE sleep 1.2 mA @ DRX 2.56 s)")

# By power profile name (fieldnode.parts.MODEMS[...].power); a model's PROFILE is the entry its part names.
PROFILES = {"sim7080g": SIM7080G, "bg95": BG95, "bg96": BG96, "bg77": BG77}

def figure(prof: Profile, state: str, nbiot: bool, drx_ms: int, edrx):
    """(mA, source) of a network-dependent state of a module with figures ``prof``: "idle_drx" at the cell's DRX
    cycle, "idle_edrx" with the granted eDRX ``(cycle_ms, ptw_ms)`` (None: plain DRX), "tau" on the radio access
    technology in use; (None, None) for the other states (the board file gives them)."""
    if state == "idle_drx" or (state == "idle_edrx" and edrx is None):
        return prof.drx_ma(drx_ms), prof.idle_source(f"DRX {drx_ms} ms")
    if state == "idle_edrx":
        return (prof.edrx_ma(edrx[0], edrx[1], drx_ms),
                prof.idle_source(f"eDRX {edrx[0]} ms, PTW {edrx[1]} ms, DRX {drx_ms} ms"))
    if state == "tau":
        ms, mc = prof.tau(nbiot)
        return mc / (ms / 1000.0), prof.tau_source(nbiot)
    return None, None


# -- the 3GPP codings the firmware sends, read with its own code ----------------------------------------------
_link = None


def codings():
    """firmware/net/link.py: the TS 24.008 timer codings (T3412, T3324) and eDRX cycle table the firmware sends
    with AT+CPSMS / AT+CEDRXS, imported once so that the model decodes with the very code that encoded."""
    global _link
    if _link is None:
        from ... import fwbridge

        _link = fwbridge.load("net.link")
    return _link


# -- 3GPP codings the firmware does not send (it sends the eDRX cycle and the PSM timers: firmware/net/link.py) ---
# LTE-M paging cycles the network may broadcast (TS 36.331 PCCH-Config defaultPagingCycle rf32..rf256).
DRX_CYCLES_MS = (320, 640, 1280, 2560)


def ptw_ms(bits: str, nbiot: bool = False):
    """Paging time window (TS 24.008 10.5.5.32, bits 8-5 of octet 3): (value + 1) x 1.28 s in WB-S1 mode (LTE-M),
    x 2.56 s in NB-S1 mode; None when malformed."""
    if not isinstance(bits, str) or len(bits) != 4 or bits.strip("01"):
        return None
    return (int(bits, 2) + 1) * (2560 if nbiot else 1280)
