"""``ATModem``: what every simulated 3GPP modem is, the layers stacked, and the data path they share.

    v250.V250            the command line, echo, framing and timing of replies on the virtual clock, line faults
      radio.Radio        power, PWRKEY, DTR and UART sleep, registration, PSM/TAU, DRX/eDRX, outages, power states
        ts27007.TS27007  the standard commands: identity, SIM, +CREG/+CEREG/+COPS/+CSQ/+CESQ, +CFUN, time
          packet.Packet  the packet domain and power saving: +CGDCONT/+CGACT/+CGPADDR/+CGATT, +CPSMS, +CEDRXS
            ATModem      (here) the modem's sockets: real UDP/TCP sockets on this host, the socket_closed fault

Each layer imports only the one below and owns its state; the lower ones reach the upper through hooks they
declare (``uart_listens``, ``tick``, ``awake_tick``, ``power_lost``, ``boot_urcs``...). A family model
(``sim7080g.py``, ``bg9x.py``) extends ``ATModem`` with its own commands, its socket dialect (``on_socket_data``,
``on_socket_closed``) and its figures.
"""

from .network import HostSocket
from .packet import Packet


class ATModem(Packet):
    def _reset_state(self):
        super()._reset_state()
        self.power_lost()  # a restart closes the modem's sockets, as a power loss does

    def power_lost(self):
        super().power_lost()
        for s in getattr(self, "sockets", {}).values():
            s.close()
        self.sockets = {}

    def apn_ok(self) -> bool:
        return self.sc.apn is None or self.sc.apn == self.apn_for_data()

    def open_socket(self, sid, proto: str, host: str, port: int):
        """Open a real socket for the modem's socket ``sid``; return None or 'dns' / 'refused'."""
        addr = self.sc.resolve(host, port)
        if addr is None:
            return "dns"
        try:
            self.sockets[sid] = HostSocket(proto, addr)
        except OSError:
            return "refused"
        return None

    def socket_send(self, sid, data: bytes, now: int) -> bool:
        s = self.sockets.get(sid)
        if s is None or not self.registered(now) or not self.ctx_active:
            return False
        ok = s.send(data)
        self.transmitted(now)
        if self.sc.closes_after_send():
            s.close()  # the network drops the connection after this send: no reply comes back
            s.closed_by_peer = True
        return ok

    def awake_tick(self, now_ms: int):
        for sid, s in list(self.sockets.items()):
            if s.poll(wait=True):
                self.schedule(now_ms + self.sc.rtt_ms, lambda t, sid=sid: self.on_socket_data(sid, t))
            if s.closed_by_peer and not getattr(s, "reported", False):
                s.reported = True
                self.schedule(now_ms + self.sc.rtt_ms, lambda t, sid=sid: self.on_socket_closed(sid, t))
        super().awake_tick(now_ms)  # then the registration URCs (ts27007)

    def on_socket_data(self, sid, now_ms):
        """Announce received data (family dialect)."""

    def on_socket_closed(self, sid, now_ms):
        """Announce a socket closed by the network (family dialect)."""
