# SIMCom SIM7080G (LTE CAT-M / NB-IoT) behind the link interface (net/link.py).
#
#     from net.sim7080g import SIM7080G
#     uart = machine.UART(1, 115200, tx=17, rx=16)
#     link = SIM7080G(uart, {"apn": "soracom.io"}, pwrkey=machine.Pin(4, machine.Pin.OUT),
#                     dtr=machine.Pin(27, machine.Pin.OUT))   # dtr: only where the board wires the modem's DTR
#     if link.up(120000):
#         print(link.send(b"hello", 5000))
#     link.down()
#
# Commands, replies and timeouts: "SIM7070_SIM7080_SIM7090 Series AT Command Manual" (V1.04; cited below as "Manual"
# with the command's section title), 3GPP TS 27.007 for the standard commands (net/cellular.py).
import time
from micropython import const

from net.at import ATError, fields, num
from net.cellular import Cellular

_CID = const(0)  # TCP/UDP connection id used for the one socket (AT+CAOPEN <cid> 0..12)
_PDP = const(0)  # application PDP index for AT+CNACT/AT+CNCFG (0..3)

# +CAOPEN <result> (Manual, AT+CAOPEN "Open a TCP/UDP Connection")
CAOPEN_RESULT = {1: "socket error", 2: "no memory", 3: "connection limit", 4: "parameter invalid",
                 6: "invalid IP address", 7: "not support the function", 12: "can't bind the port",
                 13: "can't listen the port", 20: "can't resolve the host", 21: "network not active",
                 23: "remote refuse", 24: "certificate's time expired", 25: "certificate's common name does not match",
                 26: "certificate's common name does not match and time expired", 27: "connect failed"}


class SIM7080G(Cellular):
    MODEL = "sim7080g"
    # With a fixed baud rate the module prints RDY when it has booted (and again after an unexpected reset); the
    # power-down URCs end everything the module was doing (SIMCom URC summary, e.g. SIM800 Series AT Command Manual
    # V1.09 "Summary of Unsolicited Result Codes": RDY, NORMAL POWER DOWN, UNDER-VOLTAGE POWER DOWN, OVER-VOLTAGE
    # POWER DOWN; the SIM7080 Manual lists the same family of codes, its text could not be reached here).
    BANNERS = (b"RDY", b"NORMAL POWER DOWN", b"UNDER-VOLTAGE POWER DOWN", b"OVER-VOLTAGE POWER DOWN")
    # URCs without a handler (net/at.py AT.known): never an answer, wherever they arrive. The Manual's text could not
    # be searched here: the forms are those of the command sections named, as SIMCom's SIM7000 Series AT Command
    # Manual V1.06 (AT+CPSMSTATUS, 5.2.48) and public SIM7080 drivers print them; SIMCom's URC summary (SIM800 Series
    # AT Command Manual V1.09) for the boot and voltage codes.
    URCS = (
        b"SMS Ready",  # boot, after +CPIN: READY (SIM7080 boot sequence; SIMCom URC summary "SMS Ready")
        b"Call Ready",  # SIMCom URC summary (AT+CIURC=1): phonebook ready; modules with voice print it at boot
        b"*PSUTTZ:",  # Manual, AT+CLTS "Get Local Timestamp": with <mode> 1 the network time comes as
        b"DST:",  # *PSUTTZ: <year>,<month>,<day>,<hour>,<min>,<sec>,"<tz>",<dst>, DST: <dst> and +CTZV: <tz>
        b"*PSNWID:",  # ... and the network's name (AT+CLTS, the same URC group)
        b"+CPSMSTATUS:",  # Manual, AT+CPSMSTATUS "Enable Deep Sleep Wakeup Indication": "ENTER PSM"/"EXIT PSM"
        b"ENTER PSM",  # the same indication without its prefix, as some firmware prints it
        b"EXIT PSM",
        b"+CNTP:",  # Manual, AT+CNTP "Synchronize UTC Time": OK, then +CNTP: <code>[,<time>]
        b"+SMSUB:",  # Manual, MQTT(S) chapter: a message on a subscribed topic, +SMSUB: <topic>,<message>
        b"+SMSTATE:",  # Manual, AT+SMSTATE: MQTT connection state
        b"+CAURC:",  # Manual, AT+CAOPEN/AT+CASTATE family: +CAURC: "recv",<cid>,... on firmware that reports so
        b"UNDER-VOLTAGE WARNNING",  # SIMCom URC summary (their spelling)
        b"OVER-VOLTAGE WARNNING",
    )
    PWRKEY_MS = 1100  # SIM7080G hardware design, power on: PWRKEY low for at least 1 s
    BOOT_MS = 8000
    CCID = b"AT+CCID"  # Manual, AT+CCID "Show ICCID": the ICCID on a line of its own
    RECV_URC = b"+CADATAIND:"
    # Manual, AT+CLTS "Get Local Timestamp": 1 = update the RTC from the network's time; AT+CCLK? reads it
    TIME_UPDATE = b"AT+CLTS=1"
    # Manual, AT+CSCLK "Configure Slow Clock": 1 = the module may enter sleep mode, controlled by DTR (high: it
    # sleeps and its serial port stops answering; low: it wakes). Sent only on boards with a DTR pin (cellular.py).
    SLEEP_ON = b"AT+CSCLK=1"
    # DTR low to the first command. SIMCom's SIM7080G documents we could reach give no figure; TinyGSM's SIM70xx
    # client: pull DTR low "for at least 50ms" to reestablish communication (SIMCom's SIM802 Hardware Design 3.6.4:
    # the serial port is active "about 40mS" after DTR low). The AT sync that follows retries anyway.
    DTR_WAKE_MS = 50

    def __init__(self, uart, cfg=None, pwrkey=None, at=None, dtr=None):
        Cellular.__init__(self, uart, cfg, pwrkey, at, dtr)
        # URCs with a handler: what they say is latched in the object (rx, sock, active), so nothing is lost when
        # one arrives before the driver looks (inside another command's answer, or before the wait starts).
        self.at.on(b"+CADATAIND:", self._on_data)  # Manual, AT+CAOPEN: data arrived on <cid>
        self.at.on(b"+CASTATE:", self._on_state)  # Manual, AT+CASTATE: <cid>,0 = closed by the network
        self.at.on(b"+APP PDP:", self._on_pdp)  # Manual, AT+CNACT: +APP PDP: <pdpidx>,ACTIVE|DEACTIVE

    def _on_data(self, line):
        if num(line, 11) == _CID:
            self.rx = True

    def _on_state(self, line):
        f = fields(line, b"+CASTATE:")
        if len(f) >= 2 and f[0] == str(_CID) and f[1] == "0":
            self.sock = False

    def _on_pdp(self, line):
        if line.endswith(b"DEACTIVE") and num(line, 9) == _PDP:  # +APP PDP: <pdpidx>,DEACTIVE
            self._lost_context()

    def _configure(self, dl):
        rat = self.cfg["rat"]
        # Manual, AT+CNMP "Preferred Mode Selection": 38 = LTE only. AT+CMNB "Preferred Selection between CAT-M
        # and NB-IoT": 1 CAT-M, 2 NB-IoT, 3 both.
        self._try(b"AT+CNMP=38", 1000, dl)
        self._try(b"AT+CMNB=%d" % {"catm": 1, "nbiot": 2, "both": 3}[rat], 1000, dl)
        bands = self.cfg["bands"]
        if bands:
            # Manual, AT+CBANDCFG "Configure CAT-M or NB-IOT Band": AT+CBANDCFG="CAT-M",<band>[,<band>...]
            lst = ",".join(str(b) for b in bands).encode()
            if rat in ("catm", "both"):
                self._try(b'AT+CBANDCFG="CAT-M",' + lst, 2000, dl)
            if rat in ("nbiot", "both"):
                self._try(b'AT+CBANDCFG="NB-IOT",' + lst, 2000, dl)
        c = self.cfg
        # The attach uses the default bearer's APN (TS 27.007 section 10.1.1, AT+CGDCONT).
        self._cmd(b'AT+CGDCONT=1,"IP","%s"' % c["apn"].encode(), 2000, dl)
        # Manual, AT+CNCFG "PDP Configure": <pdpidx>,<ip_type 1=IPv4>,<APN>,<user>,<pwd>,<auth 3=PAP or CHAP>
        self._cmd(b'AT+CNCFG=%d,1,"%s","%s","%s",3' % (_PDP, c["apn"].encode(), c["user"].encode(),
                                                         c["password"].encode()), 2000, dl)
        self._try(self.TIME_UPDATE, 300, dl)  # before the attach: NITZ comes with the registration
        self._psm_request(dl)

    def _activate(self, dl):
        # Manual, AT+CNACT "APP Network Active": read form +CNACT: <pdpidx>,<status>,<address>; after a wake from
        # PSM the application network may need activating again, which is immediate (no new attach).
        for line in self._cmd(b"AT+CNACT?", 2000, dl, b"+CNACT:"):
            f = fields(line, b"+CNACT:")
            if len(f) >= 2 and f[0] == str(_PDP) and f[1] == "1":
                return True
        # OK, then +APP PDP: <pdpidx>,ACTIVE; the URC may also come before the OK, so it is latched from before
        # the command (net/at.py expect)
        done = b"+APP PDP: %d," % _PDP
        self.at.expect(done)
        self._cmd(b"AT+CNACT=%d,1" % _PDP, 2000, dl)
        line = self.at.wait(done, min(60000, max(0, self._left(dl))), dl)
        if line is None:
            return self._fail("no answer to data context activation (AT+CNACT) before the deadline")
        if not line.endswith(b"ACTIVE") or line.endswith(b"DEACTIVE"):
            return self._fail('APN refused: the network did not activate "%s" (+APP PDP: %d,DEACTIVE); check APN, '
                              'user and password' % (self.cfg["apn"], _PDP))
        return True

    def _open(self, dl):
        # Manual, AT+CAOPEN: AT+CAOPEN=<cid>,<pdp_index>,<conn_type>,<server>,<port> -> +CAOPEN: <cid>,<result>
        # The result line comes before the OK; firmware that sends it after the OK is waited for (latched).
        proto = b"UDP" if self.cfg["transport"] == "udp" else b"TCP"
        done = b"+CAOPEN: %d," % _CID
        for attempt in range(2):
            self.at.expect(done)
            lines = self._cmd(b'AT+CAOPEN=%d,%d,"%s","%s",%d' % (_CID, _PDP, proto, self.host.encode(), self.port),
                              min(15000, max(1, self._left(dl))), dl, done)
            line = lines[0] if lines else self.at.wait(done, min(15000, max(0, self._left(dl))), dl)
            f = fields(line, b"+CAOPEN:") if line else ()
            res = int(f[1]) if len(f) >= 2 and f[1].isdigit() else -1
            if res != 1 or attempt:
                break
            # 1 "socket error": the cid is still open in the modem (the MCU reset while a socket was open, and the
            # modem kept it): close it and open again.
            self._close(dl)
        if res != 0:
            return self._fail("socket open failed: +CAOPEN result %d (%s)" % (res, CAOPEN_RESULT.get(res, "unknown")))
        self.sock = True
        return True

    def _send(self, data, dl):
        # Manual, AT+CASEND "Send Data via an Established Connection": '>' prompt, then exactly <datalen> bytes.
        self.at.send_data(b"AT+CASEND=%d,%d" % (_CID, len(data)), data, 10000, None, dl)

    def _recv(self, dl):
        # Manual, AT+CARECV "Receive Data via an Established Connection": +CARECV: <recvlen>,<data>
        head, data = self.at.read_data(b"AT+CARECV=%d,1460" % _CID, b"+CARECV:", True, 5000, dl)
        return data if data else None

    def _close(self, dl):
        try:
            self._cmd(b"AT+CACLOSE=%d" % _CID, 5000, dl)  # Manual, AT+CACLOSE
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise
        self.sock = False

    def _power_off(self, dl):
        # Manual, AT+CPOWD "Power Off": AT+CPOWD=1 answers NORMAL POWER DOWN (no OK).
        self.at.write(b"AT+CPOWD=1\r")
        end = time.ticks_add(time.ticks_ms(), 5000)
        self.at.wait(b"NORMAL POWER DOWN", max(0, time.ticks_diff(end, time.ticks_ms())), dl)
