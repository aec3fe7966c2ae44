"""Quectel's TCP/IP commands as the BG95/BG96/BG77 answer them: the "BG95&BG77&BG600L Series TCP/IP Application
Note" / "BG96 TCP/IP Application Note" (cited as "TCP/IP AN" with its section: 2.3.x commands, 2.4.x URCs,
chapter 4 error codes). Test forms as a BG96 answers them, from a BG96 command reference's transcripts of the
BG96 TCP/IP AT Commands Manual V1.0 (cited as "BG96 transcript").

``QuectelIP`` builds on the data path (``base.py``); the family (``bg9x.py``) builds on it.
"""

from .base import ATModem

QI_TEXT = {0: "operation successful", 561: "open PDP context failed", 563: "socket identity has been used",
           565: "DNS parse failed", 566: "socket connect failed", 567: "socket has been closed",
           572: "operation not allowed"}
MAX_SEND = 1460  # TCP/IP AN 2.3.7: <send_length> at most 1460
MAX_READ = 1500  # TCP/IP AN 2.3.8: <read_length> at most 1500


class QuectelIP(ATModem):
    def __init__(self, clock, scenario=None):
        self.qicsgp = {}  # contextID -> (context_type, APN, username, password, authentication)
        self.qierr = 0
        super().__init__(clock, scenario)
        self.add_commands({
            "+QICSGP": self._qicsgp, "+QIACT": self._qiact, "+QIDEACT": self._qideact, "+QIOPEN": self._qiopen,
            "+QISEND": self._qisend, "+QIRD": self._qird, "+QICLOSE": self._qiclose, "+QISTATE": self._qistate,
            "+QIGETERROR": self._qigeterror,
        })

    def apn_for_data(self):
        cfg = self.qicsgp.get(1)
        return (cfg[1] if cfg else "") or self.apn

    # TCP/IP AN 2.3.1 AT+QICSGP=<contextID>[,<context_type>,<APN>[,<username>,<password>[,<authentication>]]];
    # AT+QICSGP=<contextID> answers +QICSGP: <context_type>,<APN>,<username>,<password>,<authentication>, an
    # unconfigured context +QICSGP: 0,"","","",0 (BG96 transcript); test +QICSGP: (1-16),(1-3),<APN>,<username>,
    # <password>,(0-3)
    def _qicsgp(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)",))
        if k != "set" or not a or not a[0].isdigit() or not 1 <= int(a[0]) <= 16:
            return self.error(t, 50)
        if len(a) == 1:
            ctype, apn, user, pwd, auth = self.qicsgp.get(int(a[0]), (0, "", "", "", 0))
            return self.reply(t, (f'+QICSGP: {ctype},"{apn}","{user}","{pwd}",{auth}',))
        auth = a[5] if len(a) > 5 and a[5] else "0"
        if len(a) < 3 or a[1] not in ("1", "2", "3") or auth not in ("0", "1", "2", "3"):
            return self.error(t, 50)
        user, pwd = (a + ["", ""])[3:5]
        self.qicsgp[int(a[0])] = (int(a[1]), a[2], user, pwd, int(auth))
        self.reply(t)

    # TCP/IP AN 2.3.2 AT+QIACT: up to 150 s (network); read form +QIACT: <contextID>,<state>,<type>,<IP>; test
    # +QIACT: (1-16)
    def _qiact(self, k, a, t):
        if k == "read":
            lines = [f'+QIACT: 1,1,1,"{self.PDP_ADDR}"'] if self.ctx_active else []
            return self.reply(t, lines)
        if k == "test":
            return self.reply(t, ("+QIACT: (1-16)",))
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        if not self.registered(t):
            self.qierr = 561
            return self.reply(t, (), "ERROR", delay=3000)
        if not self.apn_ok():
            self.qierr = 561  # the network rejects the PDN connection (ESM cause 27: missing or unknown APN)
            return self.reply(t, (), "ERROR", delay=2500)
        self.qierr = 0
        due = self.reply(t, delay=1500)
        self.schedule(due, self._activated)

    def _activated(self, now):
        self.set_pdn(True)
        self.traffic(now)

    # TCP/IP AN 2.3.3 AT+QIDEACT=<contextID>: up to 40 s; test +QIDEACT: (1-16)
    def _qideact(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QIDEACT: (1-16)",))
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        self.set_pdn(False)
        for s in self.sockets.values():
            s.close()
        self.sockets = {}
        self.reply(t, delay=300)

    # TCP/IP AN 2.3.4 AT+QIOPEN=<contextID>,<connectID>,<service_type>,<IP_address>/<domain_name>,<remote_port>
    # [,<local_port>[,<access_mode>]]: OK, then +QIOPEN: <connectID>,<err>
    def _qiopen(self, k, a, t):
        if k == "test":
            return self.reply(t, ('+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE",'
                                  '"<IP_address>/<domain_name>",<remote_port>,<local_port>,(0-2)',))
        if k != "set" or len(a) < 5 or not a[1].isdigit() or a[2] not in ("TCP", "UDP") or not a[4].isdigit():
            return self.error(t, 50)
        sid = int(a[1])
        due = self.reply(t)
        if sid in self.sockets:
            err = 563
        elif not self.ctx_active or not self.registered(t):
            err = 561
        else:
            fail = self.open_socket(sid, a[2], a[3], int(a[4]))
            err = {None: 0, "dns": 565, "refused": 566}[fail]
        self.qierr = err
        self.traffic(t)
        self.urc(due + (self.sc.rtt_ms if a[2] == "TCP" else 200), f"+QIOPEN: {sid},{err}")

    # TCP/IP AN 2.3.7 AT+QISEND=<connectID>,<send_length>: '>', data, then SEND OK / SEND FAIL / ERROR;
    # AT+QISEND=<connectID>,0 queries +QISEND: <total_send_length>,<ackedbytes>,<unackedbytes> (the model's sends
    # count as acknowledged once out); test +QISEND: (0-11),(0-1460)
    def _qisend(self, k, a, t):
        if k == "test":
            return self.reply(t, (f"+QISEND: (0-11),(0-{MAX_SEND})",))
        if k != "set" or len(a) < 2 or not a[0].isdigit() or not a[1].isdigit():
            return self.error(t, 50)
        sid, n = int(a[0]), int(a[1])
        s = self.sockets.get(sid)
        if s is None or n > MAX_SEND:
            return self.reply(t, (), "ERROR")
        if n == 0:
            return self.reply(t, (f"+QISEND: {s.sent},{s.sent},0",))
        self.prompt(t, n, lambda data, now, sid=sid: self._sent(sid, data, now))

    def _sent(self, sid, data, now):
        if self.socket_send(sid, data, now):
            s = self.sockets.get(sid)
            if s is not None:
                s.sent += len(data)
            self.reply(now, (), "SEND OK", delay=self.sc.rtt_ms // 4)
        else:
            self.reply(now, (), "ERROR", delay=200)

    def on_socket_data(self, sid, now_ms):
        # TCP/IP AN 2.4.2: in buffer access mode one +QIURC: "recv" until the buffer has been read empty
        s = self.sockets.get(sid)
        if s is not None and self.state == "on" and not getattr(s, "announced", False):
            s.announced = True
            self.traffic(now_ms)
            self.emit(f'\r\n+QIURC: "recv",{sid}\r\n'.encode())

    def on_socket_closed(self, sid, now_ms):
        # TCP/IP AN 2.4.1 +QIURC: "closed",<connectID>
        if sid in self.sockets and self.state == "on":
            self.emit(f'\r\n+QIURC: "closed",{sid}\r\n'.encode())

    # TCP/IP AN 2.3.8 AT+QIRD=<connectID>[,<read_length>] -> +QIRD: <read_actual_length><CR><LF><data>;
    # AT+QIRD=<connectID>,0 queries +QIRD: <total_receive_length>,<have_read_length>,<unread_length>; test
    # +QIRD: (0-11),(0-1500)
    def _qird(self, k, a, t):
        if k == "test":
            return self.reply(t, (f"+QIRD: (0-11),(0-{MAX_READ})",))
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        s = self.sockets.get(int(a[0]))
        if s is None:
            return self.reply(t, (), "ERROR")
        if len(a) > 1 and a[1] == "0":
            unread = s.pending() if s.proto == "TCP" else sum(len(c) for c in s.rx)
            return self.reply(t, (f"+QIRD: {s.read + unread},{s.read},{unread}",))
        n = int(a[1]) if len(a) > 1 and a[1].isdigit() else MAX_READ
        data = s.take(min(n, MAX_READ))
        s.read += len(data)
        if not s.pending():
            s.announced = False
        self.reply(t, (b"+QIRD: %d\r\n%s" % (len(data), data) if data else b"+QIRD: 0",))

    # TCP/IP AN 2.3.5 AT+QICLOSE=<connectID>[,<timeout>]: up to 10 s; test +QICLOSE: (0-11),(0-65535)
    def _qiclose(self, k, a, t):
        if k == "test":
            return self.reply(t, ("+QICLOSE: (0-11),(0-65535)",))
        if k != "set" or not a or not a[0].isdigit():
            return self.error(t, 50)
        s = self.sockets.pop(int(a[0]), None)
        if s is not None:
            s.close()
        self.reply(t, delay=100)

    # TCP/IP AN 2.3.6 AT+QISTATE? / AT+QISTATE (all), AT+QISTATE=0,<contextID> (those of a context),
    # AT+QISTATE=1,<connectID> (one): +QISTATE: <connectID>,<service_type>,<IP>,<remote_port>,<local_port>,
    # <socket_state>,<contextID>,<serverID>,<access_mode>,<AT_port>; the test form OK
    def _qistate(self, k, a, t):
        if k == "test":
            return self.reply(t)
        socks = sorted(self.sockets.items())
        if k == "set":
            if len(a) != 2 or a[0] not in ("0", "1") or not a[1].isdigit():
                return self.error(t, 50)
            if a[0] == "1":
                socks = [(sid, s) for sid, s in socks if sid == int(a[1])]
            elif a[1] != "1":
                socks = []  # every socket of the model is on context 1
        self.reply(t, [f'+QISTATE: {sid},"{s.proto}","{s.addr[0]}",{s.addr[1]},0,{4 if s.closed_by_peer else 2},'
                       f'1,0,0,"uart1"' for sid, s in socks])

    # TCP/IP AN, AT+QIGETERROR "Query the Last Error Code" -> +QIGETERROR: <result>,<result_code_description>
    def _qigeterror(self, k, a, t):
        if k == "test":
            return self.reply(t)
        self.reply(t, (f"+QIGETERROR: {self.qierr},{QI_TEXT.get(self.qierr, 'unknown error')}",))
