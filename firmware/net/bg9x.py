# Quectel BG95 / BG96 / BG77 (LTE CAT-M / NB-IoT) behind the link interface (net/link.py).
#
#     from net.bg9x import BG9x
#     link = BG9x(machine.UART(2, 115200, tx=17, rx=16), {"apn": "soracom.io"}, pwrkey=machine.Pin(4, machine.Pin.OUT))
#     if link.up(120000):
#         print(link.send(b"hello", 5000))
#     link.down()
#
# Sources: "Quectel BG95 Series AT Commands Manual" / "BG96 AT Commands Manual" (AT+QCFG, AT+QCCID, AT+QPOWD;
# cited by command title) and "BG95&BG77&BG600L Series TCP/IP Application Note" / "BG96 TCP/IP Application Note"
# (cited as "TCP/IP AN" with its section number: 2.3.x commands, 2.4.x URCs, chapter 4 error codes).
from micropython import const

from net import link as L
from net.at import ATError, fields
from net.cellular import Cellular

_CTX = const(1)  # PDP context id (1..16)
_SID = const(0)  # socket service index <connectID> (0..11)

# TCP/IP AN chapter 4 "Summary of Error Codes" (the ones a field node meets)
QI_ERRORS = {550: "unknown error", 551: "operation blocked", 552: "invalid parameters", 553: "memory not enough",
             554: "create socket failed", 555: "operation not supported", 556: "socket bind failed",
             559: "socket read failed", 561: "open PDP context failed", 562: "close PDP context failed",
             563: "socket identity has been used", 564: "DNS busy", 565: "DNS parse failed",
             566: "socket connect failed", 567: "socket has been closed", 568: "operation busy",
             569: "operation timeout", 570: "PDP context broken down", 572: "operation not allowed",
             573: "APN not configured"}


def band_mask(bands):
    # AT+QCFG="band": a hex mask where bit n-1 stands for LTE band n.
    m = 0
    for b in bands:
        m |= 1 << (b - 1)
    return b"%X" % m


class BG9x(Cellular):
    MODEL = "bg9x"
    # RDY: the module has booted (and after an unexpected reset); POWERED DOWN: it is off (AT Commands Manual,
    # AT+QPOWD: "OK", then "POWERED DOWN"; Quectel's UG96 Hardware Design 3.7.2.1 words it so too), so no answer
    # will come.
    BANNERS = (b"RDY", b"POWERED DOWN")
    # URCs without a handler (net/at.py AT.known): never an answer, wherever they arrive. The +QIURC forms are in
    # the BG96 TCP/IP AN V1.2 section 2.3 (closed, recv, incoming full, incoming); the boot and PSM codes below are
    # as the manuals named print them (their text could not be searched here; public BG95 drivers list the same).
    URCS = (
        b"APP RDY",  # BG95/BG77 boot, after RDY: the application core is up
        b"+QUSIM:",  # boot: +QUSIM: 1, a USIM card (AT Commands Manual, URC summary)
        b"+QIND:",  # +QIND: SMS DONE / PB DONE at boot, +QIND: "csq",... (AT+QINDCFG), +QIND: "FOTA",...
        b"+QPSMTIMER:",  # AT+QCFG="psm/urc",1: +QPSMTIMER: <T3412>,<T3324> as granted (BG95 PSM Application Note)
        b"PSM POWER DOWN",  # BG95: entering PSM (PSM Application Note); the UART answers again after a wake
        b"+QNTP:",  # AT+QNTP: OK, then +QNTP: <err>[,<time>] (NTP Application Note)
        b"+QMTRECV:",  # MQTT Application Note: a message on a subscribed topic
        b"+QMTSTAT:",  # MQTT Application Note: the connection's state changed
        b"+QIOPEN:",  # TCP/IP AN 2.3.4: a socket's open result, after the OK (ours is latched by _open)
    )
    PWRKEY_MS = 750  # BG95/BG96 hardware design, turn on: PWRKEY low 500-1000 ms (BG96: at least 100 ms)
    BOOT_MS = 10000
    CCID = b"AT+QCCID"  # AT Commands Manual, AT+QCCID "Show ICCID": +QCCID: <ICCID>
    CCID_PREFIX = b"+QCCID: "
    RECV_URC = b'+QIURC: "recv"'
    # AT Commands Manual, AT+QSCLK "Enable/Disable Sleep Mode": 1 = enable; with a UART host the module sleeps while
    # DTR is high (or open) and DTR low wakes it (BG96/BG77 Hardware Design 3.4.1). Sent only on boards with a DTR
    # pin (cellular.py).
    SLEEP_ON = b"AT+QSCLK=1"
    # DTR low to a UART that answers: not published for the BG95/BG96/BG77. Quectel's GSM UART Application Note 6.2
    # gives "about 600ms" for its GSM modules, so no fixed wait: the first AT is retried every 300 ms for up to
    # 1.5 s before the modem counts as off (and PWRKEY is pressed).
    DTR_SYNC_MS = 1500

    def __init__(self, uart, cfg=None, pwrkey=None, at=None, dtr=None):
        Cellular.__init__(self, uart, cfg, pwrkey, at, dtr)
        self.at.on(b"+QIURC:", self._on_qiurc)
        self.stale = False

    def _on_qiurc(self, line):
        # TCP/IP AN 2.4.1 +QIURC: "closed",<connectID>; 2.4.2 +QIURC: "recv",<connectID>; 2.4.5
        # +QIURC: "pdpdeact",<contextID>; the others ("incoming full", "incoming", "dnsgip") concern no socket of ours
        f = fields(line, b"+QIURC:")
        if not f:
            return
        if f[0] == "recv" and len(f) >= 2 and f[1] == str(_SID):
            self.rx = True
        elif f[0] == "closed" and len(f) >= 2 and f[1] == str(_SID):
            self.sock = False
            self.stale = True  # TCP/IP AN 2.4.1: the socket stays "closing" until AT+QICLOSE
        elif f[0] == "pdpdeact" and len(f) >= 2 and f[1] == str(_CTX):
            self._lost_context()

    def _configure(self, dl):
        rat = self.cfg["rat"]
        # AT Commands Manual, AT+QCFG "nwscanmode": 3 = LTE only; "iotopmode": 0 eMTC, 1 NB-IoT, 2 both;
        # <effect> 1 = take effect immediately.
        self._try(b'AT+QCFG="nwscanmode",3,1', 1000, dl)
        self._try(b'AT+QCFG="iotopmode",%d,1' % {"catm": 0, "nbiot": 1, "both": 2}[rat], 1000, dl)
        bands = self.cfg["bands"]
        if bands:
            # AT+QCFG="band",<gsmbandval>,<emtcbandval>,<nbiotbandval>,<effect>; gsmbandval 0 = no change
            m = band_mask(bands)
            self._try(b'AT+QCFG="band",0,%s,%s,1' % (m if rat != "nbiot" else b"0", m if rat != "catm" else b"0"),
                      1000, dl)
        c = self.cfg
        self._cmd(b'AT+CGDCONT=%d,"IP","%s"' % (_CTX, c["apn"].encode()), 2000, dl)
        # TCP/IP AN 2.3.1 AT+QICSGP=<contextID>,<context_type 1=IPv4>,<APN>,<username>,<password>,<auth 3=PAP or
        # CHAP>
        self._cmd(b'AT+QICSGP=%d,1,"%s","%s","%s",3' % (_CTX, c["apn"].encode(), c["user"].encode(),
                                                          c["password"].encode()), 2000, dl)
        self._try(self.TIME_UPDATE, 300, dl)  # before the attach: NITZ comes with the registration (TS 27.007 8.40)
        self._psm_request(dl)

    def _network_time(self, dl):
        # AT Commands Manual, AT+QLTS "Obtain the Latest Time Synchronized Through Network": mode 1 gives the
        # current GMT time, +QLTS: "yyyy/MM/dd,hh:mm:ss±zz,<dst>" ("" before the network gave one). Quectel's
        # +CCLK has been seen answering GMT with a zone where TS 27.007 says local time: QLTS=1 is unambiguous.
        try:
            lines = self._cmd(b"AT+QLTS=1", 1000, dl, b"+QLTS:")
            if lines:
                return L.clock_s(lines[0][6:].strip(), True)
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise
        return Cellular._network_time(self, dl)

    def _last_qierror(self, dl):
        # TCP/IP AN, AT+QIGETERROR "Query the Last Error Code" -> +QIGETERROR: <result>,<result_code_description>
        try:
            lines = self._cmd(b"AT+QIGETERROR", 300, dl, b"+QIGETERROR:")
            f = fields(lines[0], b"+QIGETERROR:") if lines else ()
            return int(f[0]) if f and f[0].isdigit() else None
        except ATError:
            return None

    def _activate(self, dl):
        # TCP/IP AN 2.3.2 AT+QIACT? -> +QIACT: <contextID>,<context_state>,<context_type>,<IP_address>
        for line in self._cmd(b"AT+QIACT?", 2000, dl, b"+QIACT:"):
            f = fields(line, b"+QIACT:")
            if len(f) >= 2 and f[0] == str(_CTX) and f[1] == "1":
                return True
        try:
            # TCP/IP AN 2.3.2 AT+QIACT=<contextID>: maximum response time 150 s, determined by the network
            self._cmd(b"AT+QIACT=%d" % _CTX, min(150000, max(1, self._left(dl))), dl)
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise
            code = self._last_qierror(dl)
            return self._fail('APN refused: the network did not activate "%s" (%s); check APN, user and password'
                              % (self.cfg["apn"], "%d %s" % (code, QI_ERRORS.get(code, "")) if code else e))
        return True

    def _open(self, dl):
        # TCP/IP AN 2.3.4 AT+QIOPEN=<contextID>,<connectID>,<service_type>,<host>,<remote_port>,<local_port>,
        # <access_mode 0=buffer access> -> OK, then +QIOPEN: <connectID>,<err> within 150 s; without it, close
        # the socket with AT+QICLOSE.
        if self.stale:
            self._close(dl)
        proto = b"UDP" if self.cfg["transport"] == "udp" else b"TCP"
        done = b"+QIOPEN: %d," % _SID
        self.at.expect(done)  # latched from now: a fast network answers before the OK has been read
        self._cmd(b'AT+QIOPEN=%d,%d,"%s","%s",%d,0,0' % (_CTX, _SID, proto, self.host.encode(), self.port), 1000, dl)
        line = self.at.wait(done, min(150000, max(0, self._left(dl))), dl)
        if line is None:
            self._close(dl)
            return self._fail("socket open: no +QIOPEN before the deadline")
        f = fields(line, b"+QIOPEN:")
        err = int(f[1]) if len(f) >= 2 and f[1].isdigit() else -1
        if err != 0:
            self._close(dl)
            return self._fail("socket open failed: +QIOPEN error %d (%s)" % (err, QI_ERRORS.get(err, "unknown")))
        self.sock = True
        return True

    def _send(self, data, dl):
        # TCP/IP AN 2.3.7 AT+QISEND=<connectID>,<send_length>: '>', the bytes, then SEND OK / SEND FAIL (buffer
        # full) / ERROR (connection not established or closed). Maximum response time 120 s (network).
        self.at.send_data(b"AT+QISEND=%d,%d" % (_SID, len(data)), data, min(120000, max(1, self._left(dl))), None, dl)

    def _recv(self, dl):
        # TCP/IP AN 2.3.8 AT+QIRD=<connectID>,<read_length> -> +QIRD: <read_actual_length><CR><LF><data>
        head, data = self.at.read_data(b"AT+QIRD=%d,1500" % _SID, b"+QIRD:", False, 5000, dl)
        return data if data else None

    def _close(self, dl):
        try:
            self._cmd(b"AT+QICLOSE=%d" % _SID, 10000, dl)  # TCP/IP AN 2.3.5 AT+QICLOSE, 10 s
        except ATError as e:
            if e.kind in ("timeout", "restart"):
                raise
        self.sock = False
        self.stale = False

    def _power_off(self, dl):
        # AT Commands Manual, AT+QPOWD=1 "Power Off" (normal): OK, then POWERED DOWN when it is safe to cut power.
        # POWERED DOWN ends the command like a restart banner when it comes before the OK: then the module is off
        # as asked, and not sent the command again (nor pressed with PWRKEY, which would switch it back on).
        at = self.at
        at.expect(b"POWERED DOWN")
        try:
            at.cmd(b"AT+QPOWD=1", 1000, None, dl)
        except ATError:
            if at.wait(b"POWERED DOWN", 0) is None:
                raise
            return
        at.wait(b"POWERED DOWN", 5000, dl)
