"""Quectel BG95 / BG96 / BG77 as their AT dialect says: "BG95 Series AT Commands Manual" / "BG96 AT Commands Manual"
(AT+QCFG, AT+QCCID, AT+QPOWD, cited by command title); the TCP/IP commands are in ``quectel_ip.py``. Test forms as
a BG96 answers them come from a BG96 command reference's transcripts of the BG96 AT Commands Manual V2.1 (cited as
"BG96 transcript"); the manuals themselves were reached only as their title pages.

``BG9x`` is what the three share; ``BG95`` (the BG95-M3), ``BG96`` and ``BG77`` override only where their own
documents differ: the identity ATI gives, the radios they have (and so the AT+QCFG="nwscanmode"/"nwscanseq" values
they take), the PWRKEY timing of each Hardware Design, the boot URCs and the power profile. The board file's
``modem.type`` picks the class (``fieldnode.parts.MODEMS``).
"""

from . import power
from .power import codings
from .quectel_ip import QuectelIP
from .ts27007 import PLMN, RSRQ_DB, SINR_DB

# AT+QCFG="band" masks (hex; bit n-1 = LTE band n, GSM: 1 900, 2 1800, 4 850, 8 1900 MHz) as a BG9x reads them
# back after leaving the factory: +QCFG: "band",0xf,0x100002000000000f0e189f,0x10004200000000090e189f (a Quectel
# BG9x's own answer quoted in public driver code); the per-module factory masks of the manuals were not reached.
BAND_DEFAULT = (0xF, 0x100002000000000F0E189F, 0x10004200000000090E189F)


class BG9x(QuectelIP):
    """The family. Not built on its own: a board file names the module (BG95, BG96 or BG77)."""

    MANUFACTURER = "Quectel"
    BOOT_MS = 4500  # rough: PWRKEY to RDY (the turn-on timing pages of the hardware designs were not reachable)
    PWRKEY_OFF_MS = 650  # BG95&BG96 Compatible Design 4.3.2, BG95 Series / BG77 Hardware Design 3.6.2.1: >= 650 ms
    POWER_DOWN_URC = b"POWERED DOWN"
    # From DTR low until a sleeping module's UART listens: not published for the BG95/BG96/BG77 (their hardware
    # design says only that DTR low wakes the module). Quectel's GSM UART Application Note V1.0, 6.2 DTR, gives
    # "about 600ms" for its GSM modules; taken as a conservative stand-in.
    DTR_WAKE_MS = 600
    APP_RDY = True  # "APP RDY" follows "RDY" at boot
    # AT+QCFG="nwscanseq" <scanseq> codes (AT Commands Manual, AT+QCFG "Configure RAT Searching Sequence", as
    # LooUQ's BG96 driver quotes its table): 00 automatic (LTE Cat M1, then Cat NB1, then GSM), 01 GSM, 02 LTE Cat M1
    # (eMTC), 03 LTE Cat NB1/NB2; a sequence is codes in order, e.g. 020301. RATS: this module's radios in their
    # automatic order. 00, the default, reads back as that order itself, as the modules answer: an EC25 set to 00
    # reads 0301020405 (1NCE's EC25 guide), and a public BG95/BG96 setup script expects 020301 after setting 00.
    RATS = ("02", "03", "01")
    SCANMODES = ("0", "1", "3")  # AT+QCFG="nwscanmode": a BG95-M3 answers the test form with (0,1,3)

    def __init__(self, clock, scenario=None):
        if self.NAME is None:
            raise TypeError("BG9x is the family: build BG95, BG96 or BG77 (fieldnode.sim.modems.create)")
        self.qcfg = {"nwscanmode": "0", "iotopmode": "2", "nwscanseq": "".join(self.RATS), "band": BAND_DEFAULT,
                     "psm/urc": "0"}
        super().__init__(clock, scenario)
        self.add_commands({
            # AT Commands Manual, AT+QCCID "Show ICCID": +QCCID: <ICCID>; the test form OK
            "+QCCID": self._sim_ident(lambda: f"+QCCID: {self.sc.iccid}"),
            "+QCFG": self._qcfg, "+QPOWD": self._qpowd, "+QNWINFO": self._qnwinfo,
            "+QLTS": self._qlts, "+QCSQ": self._qcsq, "+QGMR": self._qgmr, "+QPSMS": self._qpsms,
            # AT Commands Manual, AT+QSCLK "Enable/Disable Sleep Mode": 0 disable, 1 enable (sleep while DTR high)
            "+QSCLK": lambda k, a, t: self._sleep_clock(k, a, t, "QSCLK"),
        })

    def boot_urcs(self):
        urcs = [b"RDY", *([b"APP RDY"] if self.APP_RDY else []), b"+CFUN: 1"]
        if self.sc.sim_present:
            urcs += [b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE"]
        else:
            urcs.append(b"+CPIN: NOT INSERTED")
        return urcs

    def act(self):
        return 9 if self.qcfg["iotopmode"] == "1" else 7

    # AT+CTZU on a BG96: 0 off, 1 on, 3 on and the local time written to the RTC; test +CTZU: (0,1,3) (BG96
    # transcript)
    def _ctzu(self, k, a, t):
        if k == "set" and a and a[0] == "3":
            self.ctzu = 3
            return self.reply(t)
        if k == "test":
            return self.reply(t, ("+CTZU: (0,1,3)",))
        return super()._ctzu(k, a, t)

    def time_update(self):
        return self.ctzu in (1, 3)

    def tick(self, now_ms):
        was = self.state
        super().tick(now_ms)
        # AT+QCFG="psm/urc",1 "Enable/Disable PSM Entering Indication": a URC as the module enters PSM. Its text
        # was not in what we reached of the manuals; "PSM POWER DOWN" as BG96 users quote it.
        if was == "on" and self.state == "psm" and self.qcfg["psm/urc"] == "1":
            self.emit(b"\r\nPSM POWER DOWN\r\n")

    # AT Commands Manual, AT+QLTS "Obtain the Latest Time Synchronized Through Network": AT+QLTS[=<mode>], mode 0
    # the latest time synchronized (local), 1 the current GMT time, 2 the current local time; answers
    # +QLTS: "<yyyy/MM/dd,hh:mm:ss±zz>,<dst>", or an empty string when the network has not given the time.
    def _qlts(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QLTS: (0-2)",))
        if k == "read":
            return self.error(t, 4)
        mode = a[0] if a else "0"
        if mode not in ("0", "1", "2"):
            return self.error(t, 50)
        ms = self.network_time_ms(t, need_update=False)  # the time the network gave, whatever AT+CTZU says
        if ms is None:
            return self.reply(t, ('+QLTS: ""',))
        if mode == "0":
            ms = self.reg_at if self.reg_at is not None else ms
        tz = self.sc.tz
        text = self.clock_text(ms, 0 if mode == "1" else tz, year4=True)
        if mode == "1":
            text = text[:-3] + f"{'-' if tz < 0 else '+'}{abs(tz):02d}"  # GMT time, the zone still given
        self.reply(t, (f'+QLTS: "{text},0"',))

    def _scanseq_ok(self, seq: str) -> bool:
        """A <scanseq> this module takes: 00 (automatic), or its RATs' codes in some order, each at most once."""
        if seq == "00":
            return True
        codes = [seq[i:i + 2] for i in range(0, len(seq), 2)]
        return (bool(codes) and len(seq) % 2 == 0 and len(set(codes)) == len(codes)
                and all(c in self.RATS for c in codes))

    # AT Commands Manual, AT+QCFG "Extended Configuration Settings": "nwscanmode", "nwscanseq", "iotopmode", "band",
    # "psm/urc"; AT+QCFG="<name>" reads the setting back as +QCFG: "<name>",<value>. The test form lists every
    # setting's range; a module lists some thirty, the model those it has, each line as a BG96 prints it (BG96
    # transcript: "nwscanmode",(0,1,3),(0,1) / "nwscanseq",(00-010203),(0,1) / "band",(0-F),(0-7FFFFFFFFFFFFFFF),
    # (0-7FFFFFFFFFFFFFFF),(0,1) / "iotopmode",(0-2) / "psm/urc",(0,1)), the RAT lists this module's own.
    def qcfg_test(self):
        modes = ",".join(self.SCANMODES)
        return (f'+QCFG: "nwscanmode",({modes}),(0,1)', f'+QCFG: "nwscanseq",(00-{"".join(sorted(self.RATS))}),(0,1)',
                '+QCFG: "band",(0-F),(0-7FFFFFFFFFFFFFFF),(0-7FFFFFFFFFFFFFFF),(0,1)', '+QCFG: "iotopmode",(0-2)',
                '+QCFG: "psm/urc",(0,1)')

    def _qcfg(self, k, a, t):
        if k == "test":
            return self.reply(t, self.qcfg_test())
        if k != "set" or not a or a[0] not in self.qcfg:
            return self.error(t, 50)
        name = a[0]
        if len(a) == 1:  # query form: AT+QCFG="iotopmode"
            v = self.qcfg[name]
            v = ",".join(f"0x{x:x}" for x in v) if name == "band" else v  # masks read back as 0x-prefixed hex
            return self.reply(t, (f'+QCFG: "{name}",{v}',))
        if name == "band":
            # AT+QCFG="band",<gsmbandval>,<emtcbandval>,<nbiotbandval>[,<effect>]: hex masks, 0 = no change
            if len(a) < 4:
                return self.error(t, 50)
            try:
                vals = [int(x, 16) for x in a[1:4]]
            except ValueError:
                return self.error(t, 50)
            if vals[0] > 0xF or any(not 0 <= v < 1 << 128 for v in vals):
                return self.error(t, 50)
            self.qcfg["band"] = tuple(v or old for v, old in zip(vals, self.qcfg["band"], strict=True))
        elif name == "nwscanseq":
            if not self._scanseq_ok(a[1]):
                return self.error(t, 50)
            self.qcfg[name] = "".join(self.RATS) if a[1] == "00" else a[1]
        else:
            # "nwscanmode": 0 automatic, 1 GSM only, 3 LTE only (SCANMODES: those this module's radios allow);
            # "iotopmode": 0 eMTC, 1 NB-IoT, 2 both; "psm/urc": 0 off, 1 the PSM entering indication
            allowed = {"nwscanmode": self.SCANMODES, "iotopmode": ("0", "1", "2"), "psm/urc": ("0", "1")}[name]
            if a[1] not in allowed:
                return self.error(t, 50)
            self.qcfg[name] = a[1]
        self.reply(t, delay=100)

    # AT Commands Manual, AT+QPOWD[=<n>] "Power Off": 0 immediately, 1 (the default) normal power down: OK, then
    # POWERED DOWN; test +QPOWD: (0,1)
    def _qpowd(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QPOWD: (0,1)",))
        if k == "read" or (k == "set" and a[:1] not in (["0"], ["1"])):
            return self.error(t, 50)
        due = self.reply(t)
        self.schedule(due + (300 if a[:1] != ["0"] else 20), lambda now: self.power_off(now))

    def rat_name(self) -> str:
        """<Act> of AT+QNWINFO and <sysmode> of AT+QCSQ on LTE: "eMTC" or "NBIoT" (BG95/BG96 transcripts)."""
        return "NBIoT" if self.act() == 9 else "eMTC"

    # AT Commands Manual, AT+QNWINFO "Query Network Information": +QNWINFO: <Act>,<oper>,<band>,<channel>, e.g.
    # +QNWINFO: "eMTC","26203","LTE BAND 20",6200 (BG9x transcripts); the test form OK
    def _qnwinfo(self, k, a, t):
        if k == "test":
            return self.reply(t)
        if k != "exec":
            return self.error(t, 4)
        if not self.registered(t):
            return self.reply(t, ("+QNWINFO: No Service",))
        self.reply(t, (f'+QNWINFO: "{self.rat_name()}","{PLMN}","LTE BAND 19",6200',))

    # AT Commands Manual, AT+QCSQ "Query and Report Signal Strength": on LTE +QCSQ: <sysmode>,<lte_rssi>,<lte_rsrp>,
    # <lte_sinr>,<lte_rsrq>, SINR in 1/5 dB steps from -20 dB (0..250), e.g. +QCSQ: "eMTC",-84,-91,165,-6 (a
    # SORACOM transcript); no network: +QCSQ: "NOSERVICE"
    def _qcsq(self, k, a, t):
        if k != "exec":
            return self.error(t, 4)
        if not self.in_service(t):
            return self.reply(t, ('+QCSQ: "NOSERVICE"',))
        sinr = max(0, min(250, (SINR_DB + 20) * 5))
        self.reply(t, (f'+QCSQ: "{self.rat_name()}",{self.sc.rssi_dbm},{self.rsrp_dbm()},{sinr},{RSRQ_DB}',))

    # AT Commands Manual, AT+QGMR "Request Modem and Application Firmware Versions": the revision and its build,
    # shaped as a BG95-M5 answers it (BG95M5LAR02A03_01.006.00.000); the build numbers here are the model's own
    def _qgmr(self, k, a, t):
        if k == "test":
            return self.reply(t)
        if k != "exec":
            return self.error(t, 4)
        self.reply(t, (f"{self.REVISION}_01.012.01.012",))

    # AT+QPSMS "Power Saving Mode Setting" (BG96 manual): read +QPSMS: <mode>,,,"<TAU s>","<Active-Time s>", the
    # requested timers in seconds (a BG96 reads +QPSMS: 0,,,"43200","20" where +CPSMS? reads 0,,,"00101100",
    # "00001010", a module transcript shows); setting PSM goes through AT+CPSMS here (the QPSMS set form's seconds
    # syntax was not reached)
    def _qpsms(self, k, a, t):
        if k != "read":
            return self.error(t, 4)
        mode = 0 if self.psm_req is None else 1
        if self.psm_timers is None:
            return self.reply(t, (f"+QPSMS: {mode},,,,",))
        link = codings()
        tau, act = link.t3412_s(self.psm_timers[0]), link.t3324_s(self.psm_timers[1])
        tau, act = ("" if v is None else str(v) for v in (tau, act))
        self.reply(t, (f'+QPSMS: {mode},,,"{tau}","{act}"',))


# -- the three modules ---------------------------------------------------------------------------------------------
# ATI answers: "Quectel / <model> / Revision: <revision>" as modules print it (V.250 I, TS 27.007 +CGMM/+CGMR): the
# BG95-M3 line from a module's own transcript (lukejenkins/cwd, reference/quectel/bg95m3: BG95M3LAR02A03); the
# BG96 and BG77 lines as public driver code and router documentation quote them (BG96MAR02A07M1G, BG77LAR02A04).

class BG95(BG9x):
    """BG95-M3: LTE Cat M1, Cat NB2 and EGPRS, the BG95 variant with GSM (the M1/M2 are LTE only and not modelled):
    a BG95-M3's own AT+QCFG=? answers "nwscanmode",(0,1,3) and "nwscanseq",(00-010203) (lukejenkins/cwd)."""

    NAME = "bg95"
    MODEL = "BG95-M3"
    REVISION = "BG95M3LAR02A03"
    PWRKEY_ON_MS = 500  # turn-on press 500-1000 ms as the firmware's note has it; the HD page was not reachable
    # BG95 Series Hardware Design 3.6.2.1: "Driving PWRKEY low for 650-1500 ms and then release it, the module will
    # execute power-down procedure"; a longer press is no power-down. Its note to 3.6.1: the chipset has the reset
    # function integrated into PWRKEY. The reset press itself is the BG77's (BG77 HD 3.7, 2-3.8 s): the BG95's own
    # reset timing page was not reachable.
    PWRKEY_OFF_MAX_MS = 1500
    PWRKEY_RESET_MS = 2000
    PROFILE = power.PROFILES["bg95"]


class BG96(BG9x):
    """BG96: LTE Cat M1, Cat NB1 and EGPRS (its product description, as Zerynth's BG96 driver documents it). A RESET_N
    pin of its own (PWRKEY does not reset it, ST's BG96 driver after BG96 HD V1.4); no "APP RDY" at boot."""

    NAME = "bg96"
    MODEL = "BG96"
    REVISION = "BG96MAR02A07M1G"
    APP_RDY = False
    # Turn-on: at least 100 ms as the firmware's note has it (ST's BG96 driver, after BG96 HD V1.4, holds 500 ms);
    # the HD page was not reachable. Turn-off: "at least 650ms for BG96", no upper bound (BG95&BG96 Compatible
    # Design 4.3.2).
    PWRKEY_ON_MS = 100
    PROFILE = power.PROFILES["bg96"]


class BG77(BG9x):
    """BG77: LTE Cat M1 and Cat NB2 only, no GSM (its product description, as thingpilot/quectel_bg77 quotes it):
    AT+QCFG takes no GSM RAT."""

    NAME = "bg77"
    MODEL = "BG77"
    REVISION = "BG77LAR02A04"
    RATS = ("02", "03")  # so 00 reads back as 0203 (the BG95's order without GSM; a BG77's own answer not reached)
    SCANMODES = ("0", "3")  # no "1" (GSM only): the module has no GSM radio; its manual's range was not reachable
    PWRKEY_ON_MS = 500  # as the BG95's (the HD turn-on page was not reachable)
    # BG77 Hardware Design 3.6.2.1: power-down "for a duration between 650ms and 1500ms"; 3.7: RESET_N is
    # multiplexed from PWRKEY, "reset by driving RESET_N low for a duration between 2s and 3.8s".
    PWRKEY_OFF_MAX_MS = 1500
    PWRKEY_RESET_MS = 2000
    PROFILE = power.PROFILES["bg77"]
