"""SIMCom SIM7080G as its AT dialect says: "SIM7070_SIM7080_SIM7090 Series AT Command Manual" (V1.04), cited as
"Manual" with the command's section title; the standard commands are in ``ts27007.py``, the layers under them in
``base.py``.
"""

from . import power
from .base import ATModem
from .ts27007 import PLMN, RSRQ_DB, SINR_DB, TAC

# TS 27.007 <AcT>: 7 E-UTRAN (CAT-M), 9 E-UTRAN NB-S1
_ACT = {1: 7, 2: 9, 3: 7}
# The bands the SIM7080G has (SIMCom SIM7080G Specification, frequency bands: Cat-M B1/2/3/4/5/8/12/13/14/18/19/20/
# 25/26/27/28/66/85, NB-IoT B1/2/3/4/5/8/12/13/18/19/20/25/26/28/66/71/85). AT+CBANDCFG? reads one line per mode
# with its band list (Manual, AT+CBANDCFG; a module's answer has the shape +CBANDCFG: "CAT-M",1,2,3,...); after
# a start every band is enabled.
BANDS = {"CAT-M": (1, 2, 3, 4, 5, 8, 12, 13, 14, 18, 19, 20, 25, 26, 27, 28, 66, 85),
         "NB-IOT": (1, 2, 3, 4, 5, 8, 12, 13, 18, 19, 20, 25, 26, 28, 66, 71, 85)}


class SIM7080G(ATModem):
    NAME = "sim7080g"
    MODEL = "SIM7080"
    MANUFACTURER = "SIMCOM INCORPORATED"
    REVISION = "1951B17SIM7080"
    BOOT_MS = 3500  # rough: PWRKEY release to UART ready (hardware design, power-on sequence)
    PWRKEY_ON_MS = 1000  # hardware design: PWRKEY low >= 1 s powers on
    PWRKEY_OFF_MS = 1200  # hardware design: PWRKEY low >= 1.2 s powers off
    POWER_DOWN_URC = b"NORMAL POWER DOWN"
    PROFILE = power.SIM7080G
    # From DTR low until a sleeping module's UART listens. Not in the SIMCom documents we could reach for the
    # SIM7080G; TinyGSM's SIM70xx client says to hold DTR low "for at least 50ms" to reestablish communication, and
    # SIMCom's SIM802 Hardware Design 3.6.4 gives "about 40mS" for its serial port: the longer is taken.
    DTR_WAKE_MS = 50
    # Test forms as SIMCom's manual gives them (quoted by a SIM7080G driver's command table, the manual not reached
    # itself): AT+CEREG=? +CEREG: (0-2,4) (so n 3 and 5 are refused), AT+CGDCONT=? one line for "IP"
    CEREG_N = ("0", "1", "2", "4")
    CEREG_TEST = "+CEREG: (0-2,4)"
    CGDCONT_TEST = ('+CGDCONT: (1-15),"IP",,,(0-2),(0-4),(0)',)

    def __init__(self, clock, scenario=None):
        self.cnmp = 2
        self.cmnb = 1
        self.bands = {m: list(b) for m, b in BANDS.items()}
        self.cncfg = {}  # pdpidx -> (ip_type, APN, user, password, auth)
        self.pdp = {}  # pdpidx -> active
        self.data_pdp = 0  # the pdpidx AT+CNACT last activated (its AT+CNCFG APN is the data connection's)
        super().__init__(clock, scenario)
        self.add_commands({
            # Manual, AT+CCID "Show ICCID": execution answers the ICCID on a line of its own; the test form OK
            "+CCID": self._sim_ident(lambda: self.sc.iccid),
            "+CNMP": self._cnmp, "+CMNB": self._cmnb, "+CBANDCFG": self._cbandcfg,
            "+CNCFG": self._cncfg, "+CNACT": self._cnact, "+CAOPEN": self._caopen, "+CASEND": self._casend,
            "+CARECV": self._carecv, "+CACLOSE": self._caclose, "+CASTATE": self._castate, "+CPOWD": self._cpowd,
            "+CPSI": self._cpsi, "+CLTS": self._clts,
            # Manual, AT+CSCLK "Configure Slow Clock": 0 the module never sleeps, 1 it sleeps while DTR is high
            "+CSCLK": lambda k, a, t: self._sleep_clock(k, a, t, "CSCLK"),
        })

    def boot_urcs(self):
        # With a fixed baud rate (AT+IPR) the module reports RDY, then the SIM and SMS subsystems.
        urcs = [b"RDY", b"+CFUN: 1"]
        urcs.append(b"+CPIN: READY" if self.sc.sim_present else b"+CPIN: NOT INSERTED")
        if self.sc.sim_present:
            urcs.append(b"SMS Ready")
        return urcs

    def _reset_state(self):
        super()._reset_state()
        self.pdp = {}
        self.clts = 0

    def time_update(self):
        # Manual, AT+CLTS "Get Local Timestamp": 1 = the module updates its RTC from the network time (NITZ);
        # the standard AT+CTZU=1 (TS 27.007 8.40) is taken the same way. AT+CCLK? then reads it (Manual, AT+CCLK
        # "Real Time Clock": "yy/MM/dd,hh:mm:ss±zz").
        return self.clts == 1 or self.ctzu == 1

    # Manual, AT+CLTS "Get Local Timestamp": AT+CLTS=<mode> 0 disable, 1 enable; read +CLTS: <mode>
    def _clts(self, k, a, t):
        return self._setting(k, a, t, "CLTS", ("0", "1"), "+CLTS: (0,1)")

    def act(self):
        return _ACT.get(self.cmnb, 7)

    def cgmr(self):
        return f"Revision:{self.REVISION}"

    def apn_for_data(self):
        cfg = self.cncfg.get(self.data_pdp)
        return (cfg[1] if cfg else "") or self.apn

    # Manual, AT+CNMP "Preferred Mode Selection": 2 auto, 13 GSM, 38 LTE, 51 GSM and LTE; test +CNMP: (2,13,38,51)
    def _cnmp(self, k, a, t):
        self._setting(k, a, t, "CNMP", ("2", "13", "38", "51"), "+CNMP: (2,13,38,51)", delay=100)

    # Manual, AT+CMNB "Preferred Selection between CAT-M and NB-IoT": 1 CAT-M, 2 NB-IoT, 3 both; test (1-3)
    def _cmnb(self, k, a, t):
        self._setting(k, a, t, "CMNB", ("1", "2", "3"), "+CMNB: (1-3)", delay=100)

    # Manual, AT+CBANDCFG "Configure CAT-M or NB-IOT Band": AT+CBANDCFG=<mode>,<band>[,<band>...], only bands
    # the module has; read one line per mode
    def _cbandcfg(self, k, a, t):
        if (k == "set" and len(a) >= 2 and a[0] in BANDS and all(x.isdigit() for x in a[1:])
                and all(int(x) in BANDS[a[0]] for x in a[1:])):
            self.bands[a[0]] = [int(x) for x in a[1:]]
            return self.reply(t, delay=100)
        if k == "read":
            lines = [f'+CBANDCFG: "{m}",{",".join(map(str, b))}' for m, b in self.bands.items()]
            return self.reply(t, lines)
        return self.error(t, 50)

    # Manual, AT+CNCFG "PDP Configure": AT+CNCFG=<pdpidx>,<ip_type>[,<APN>[,<username>,<password>
    # [,<authentication>]]]; read one line per pdpidx +CNCFG: <pdpidx>,<ip_type>,<APN>,<username>,<password>,
    # <authentication>; test +CNCFG: (0-3),(0-4),150,127,127,(0-3) (maximum lengths of APN, user, password)
    def _cncfg(self, k, a, t):
        if k == "set" and len(a) >= 2 and a[0] in ("0", "1", "2", "3") and a[1] in ("0", "1", "2", "3", "4"):
            auth = a[5] if len(a) > 5 and a[5] else "0"
            apn, user, pwd = (a + ["", "", ""])[2:5]
            if auth not in ("0", "1", "2", "3") or len(apn) > 150 or len(user) > 127 or len(pwd) > 127:
                return self.error(t, 50)
            self.cncfg[int(a[0])] = (int(a[1]), apn, user, pwd, int(auth))
            return self.reply(t)
        if k == "read":
            lines = []
            for i in range(4):
                ip, apn, user, pwd, auth = self.cncfg.get(i, (0, "", "", "", 0))
                lines.append(f'+CNCFG: {i},{ip},"{apn}","{user}","{pwd}",{auth}')
            return self.reply(t, lines)
        if k == "test":
            return self.reply(t, ("+CNCFG: (0-3),(0-4),150,127,127,(0-3)",))
        return self.error(t, 50)

    # Manual, AT+CNACT "APP Network Active": AT+CNACT=<pdpidx>,<action> (0 deactive, 1 active, 2 auto active);
    # OK, then +APP PDP: <pdpidx>,ACTIVE; read +CNACT: <pdpidx>,<statusx>,<address>; test +CNACT: (0-3),(0-2)
    def _cnact(self, k, a, t):
        if k == "read":
            lines = []
            for i in range(4):
                on = self.pdp.get(i, False)
                lines.append(f'+CNACT: {i},{1 if on else 0},"{"10.160.%d.%d" % (i, 17) if on else "0.0.0.0"}"')
            return self.reply(t, lines)
        if k == "test":
            return self.reply(t, ("+CNACT: (0-3),(0-2)",))
        if k != "set" or len(a) < 2 or a[0] not in ("0", "1", "2", "3") or a[1] not in ("0", "1", "2"):
            return self.error(t, 50)
        idx, on = int(a[0]), a[1] != "0"
        self.data_pdp = idx
        if on and not self.registered(t):
            return self.error(t, 3)  # operation not allowed before attach
        due = self.reply(t)
        if not on:
            self.pdp[idx] = False
            self.set_pdn(any(self.pdp.values()))
            return self.urc(due + 100, f"+APP PDP: {idx},DEACTIVE")
        ok = self.apn_ok()

        def done(now, idx=idx, ok=ok):
            self.pdp[idx] = ok
            self.set_pdn(any(self.pdp.values()))
            self.traffic(now)
            self.emit(f"\r\n+APP PDP: {idx},{'ACTIVE' if ok else 'DEACTIVE'}\r\n".encode())

        self.schedule(due + 1200, done)

    # Manual, AT+CAOPEN "Open a TCP/UDP Connection": -> +CAOPEN: <cid>,<result> and OK
    def _caopen(self, k, a, t):
        if k == "read":
            lines = [f'+CAOPEN: {cid},0,"{s.proto}","{s.addr[0]}",{s.addr[1]}' for cid, s in self.sockets.items()]
            return self.reply(t, lines)
        if k != "set" or len(a) < 5 or not a[0].isdigit() or a[2] not in ("TCP", "UDP") or not a[4].isdigit():
            return self.error(t, 50)
        cid = int(a[0])
        if cid in self.sockets:
            return self.reply(t, (f"+CAOPEN: {cid},1",))  # 1: socket error (already in use)
        if not self.ctx_active or not self.registered(t):
            return self.reply(t, (f"+CAOPEN: {cid},21",), delay=100)  # 21: network not active
        err = self.open_socket(cid, a[2], a[3], int(a[4]))
        res = {None: 0, "dns": 20, "refused": 23}[err]  # 20 can't resolve host, 23 remote refuse
        self.traffic(t)
        self.reply(t, (f"+CAOPEN: {cid},{res}",), delay=self.sc.rtt_ms if a[2] == "TCP" else 150)

    # Manual, AT+CASEND "Send Data via an Established Connection": '>' then <datalen> bytes, then OK
    def _casend(self, k, a, t):
        if k != "set" or len(a) < 2 or not a[0].isdigit() or not a[1].isdigit():
            return self.error(t, 50)
        cid, n = int(a[0]), int(a[1])
        if cid not in self.sockets or not 0 < n <= 1460:
            return self.reply(t, (), "ERROR")
        self.prompt(t, n, lambda data, now, cid=cid: self._sent(cid, data, now))

    def _sent(self, cid, data, now):
        if self.socket_send(cid, data, now):
            self.reply(now, delay=self.sc.rtt_ms // 4)
        else:
            self.reply(now, (), "ERROR", delay=200)

    def on_socket_data(self, sid, now_ms):
        if sid in self.sockets and self.state == "on":
            self.traffic(now_ms)
            self.emit(f"\r\n+CADATAIND: {sid}\r\n".encode())

    def on_socket_closed(self, sid, now_ms):
        s = self.sockets.pop(sid, None)
        if s is not None:
            s.close()
            if self.state == "on":
                self.emit(f"\r\n+CASTATE: {sid},0\r\n".encode())

    # Manual, AT+CARECV "Receive Data via an Established Connection": +CARECV: <recvlen>,<data>
    def _carecv(self, k, a, t):
        if k != "set" or len(a) < 2 or not a[0].isdigit() or not a[1].isdigit():
            return self.error(t, 50)
        s = self.sockets.get(int(a[0]))
        if s is None:
            return self.reply(t, (), "ERROR")
        data = s.take(min(int(a[1]), 1460))
        line = b"+CARECV: %d,%s" % (len(data), data) if data else b"+CARECV: 0"
        self.reply(t, (line,))

    # Manual, AT+CACLOSE "Close a TCP/UDP Connection"
    def _caclose(self, k, a, t):
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        s = self.sockets.pop(int(a[0]), None)
        if s is None:
            return self.reply(t, (), "ERROR")
        s.close()
        self.reply(t, delay=100)

    # Manual, AT+CASTATE "Query TCP/UDP Connection Status": read +CASTATE: <cid>,<state> per open connection; the
    # test form OK
    def _castate(self, k, a, t):
        if k == "test":
            return self.reply(t)
        if k == "set":
            return self.error(t, 4)
        self.reply(t, [f"+CASTATE: {cid},1" for cid in self.sockets])

    # Manual, AT+CPOWD "Power Off": AT+CPOWD=<n>, 1 normal power off (answers NORMAL POWER DOWN, no OK), 0 power
    # off urgently (no URC); test +CPOWD: (0,1)
    def _cpowd(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+CPOWD: (0,1)",))
        if k != "set" or a[:1] not in (["0"], ["1"]):
            return self.error(t, 50)
        self.reply(t, (), None)
        urc = a[0] == "1"
        self.schedule(max(t, self.busy_until) + (300 if urc else 20), lambda now: self.power_off(now, urc=urc))

    # Manual, AT+CPSI "Inquiring UE System Information": read, on LTE +CPSI: <System Mode>,<Operation Mode>,
    # <MCC>-<MNC>,<TAC>,<SCellID>,<PCellID>,<Frequency Band>,<earfcn>,<dlbw>,<ulbw>,<RSRQ>,<RSRP>,<RSSI>,<RSSNR>;
    # the test form OK
    def _cpsi(self, k, a, t):
        if k == "test":
            return self.reply(t)
        if k != "read":
            return self.error(t, 4)
        if not self.registered(t):
            return self.reply(t, ("+CPSI: NO SERVICE,Online",))
        mode = "LTE NB-IOT" if self.act() == 9 else "LTE CAT-M1"
        dbm = self.sc.rssi_dbm
        self.reply(t, (f"+CPSI: {mode},Online,{PLMN[:3]}-{PLMN[3:]},0x{TAC},27447297,360,EUTRAN-BAND19,6200,4,4,"
                       f"{RSRQ_DB},{self.rsrp_dbm()},{dbm},{SINR_DB}",))
