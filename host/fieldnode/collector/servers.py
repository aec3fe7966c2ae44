"""UDP, TCP and HTTP front ends of one Collector, in the manner of SORACOM's Unified Endpoint (uni.soracom.io:
UDP and TCP 23080, HTTP 80; SORACOM developer docs, "Unified Endpoint"): a device sends the same bytes to either.
Locally HTTP defaults to 8080 since 80 needs root. All bind 127.0.0.1 unless told otherwise; port 0 = any free port.

UDP: one datagram in, the reply datagram out. TCP: a stream of uplinks, each found by its own length
(proto.codec.uplink_length), each answered with its reply; a connection that sends something that cannot start an
uplink is refused and closed. HTTP: POST the uplink as the body, the reply comes back as the body (200), 400 when
refused; GET /status is the live view as JSON. Every other GET is the web console (console.py: fleet at /, devices
at /devices/N, events at /events, their JSON under /api), behind HTTP Basic when a password is set.
"""

import html
import json
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..errors import ConfigError
from .fw import codec

DEFAULT_UDP = 23080
DEFAULT_TCP = 23080
DEFAULT_HTTP = 8080
TCP_IDLE = 30.0


class _UDP(threading.Thread):
    def __init__(self, collector, host, port):
        super().__init__(daemon=True, name="collector-udp")
        self.c = collector
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.address = "udp://%s:%d" % self.sock.getsockname()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            reply = self.c.handle(data, "udp:%s:%d" % addr)
            if reply is not None:
                try:
                    self.sock.sendto(reply, addr)
                except OSError:
                    pass

    def close(self):
        self._halt.set()
        self.join(2)
        self.sock.close()


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.server.collector
        src = "tcp:%s:%d" % self.client_address
        self.request.settimeout(TCP_IDLE)
        buf = b""
        while True:
            try:
                chunk = self.request.recv(4096)
            except OSError:
                return
            if not chunk:
                if buf:
                    c.handle(buf, src)  # counted as truncated
                return
            buf += chunk
            while buf:
                try:
                    need = codec.uplink_length(buf)
                except ValueError:
                    c.handle(buf[:codec.MAX_UPLINK], src)  # counted with its reason, then the stream is dropped
                    return
                if need == 0:
                    if len(buf) > codec.MAX_UPLINK:
                        c.handle(buf[:codec.MAX_UPLINK + 1], src)
                        return
                    break
                if need > codec.MAX_UPLINK:
                    c.handle(buf[:codec.MAX_UPLINK + 1], src)
                    return
                if len(buf) < need:
                    break
                reply = c.handle(buf[:need], src)
                buf = buf[need:]
                if reply is not None:
                    self.request.sendall(reply)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _HTTPHandler(BaseHTTPRequestHandler):
    server_version = "fieldnode-collector"

    def log_message(self, *a):  # the collector logs what matters; no line per request
        pass

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        c = self.server.collector
        src = "http:%s:%d" % self.client_address
        try:
            n = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            n = -1
        if n < 0:
            c.refuse(codec.REASON_MALFORMED, src, "HTTP POST without Content-Length")
            return self._send(411, b"Content-Length required\n", "text/plain")
        if n > codec.MAX_UPLINK:
            c.refuse(codec.REASON_OVERSIZED, src, "HTTP body of %d bytes, at most %d" % (n, codec.MAX_UPLINK))
            self.close_connection = True
            return self._send(413, b"uplink too large\n", "text/plain")
        reply = c.handle(self.rfile.read(n), src)
        if reply is None:
            return self._send(400, b"refused\n", "text/plain")
        self._send(200, reply, "application/octet-stream")

    def do_GET(self):
        con = self.server.console
        if con is not None:
            if not con.authorized(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fieldnode console"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.split("?")[0] == "/api/stream":
                return self._stream(con)
            got = con.get(self.path)
            if got is not None:
                return self._send(*got)
        st = self.server.collector.status()
        if self.path.startswith("/status"):
            return self._send(200, json.dumps(st, indent=1).encode(), "application/json")
        if self.path not in ("/", "/index.html"):
            return self._send(404, b"not found: try / or /status\n", "text/plain")
        self._send(200, render_html(st).encode(), "text/html; charset=utf-8")

    def _stream(self, con):
        """Server-sent events: a "change" message with the change count whenever the collector stores or refuses
        something (at most 4 a second), a comment every 15 s to keep the connection open."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        seen = con.changes
        last_beat = time.monotonic()
        try:
            self.wfile.write(b"retry: 2000\ndata: %d\n\n" % seen)
            self.wfile.flush()
            while not con.closing:
                now = con.wait_change(seen, 1.0)
                if now != seen:
                    seen = now
                    self.wfile.write(b"data: %d\n\n" % seen)
                    self.wfile.flush()
                    time.sleep(0.25)
                elif time.monotonic() - last_beat > 15:
                    last_beat = time.monotonic()
                    self.wfile.write(b": alive\n\n")
                    self.wfile.flush()
        except OSError:  # the browser went away
            pass
        self.close_connection = True


def render_html(st) -> str:
    rows = []
    for d in st["devices"]:
        r = d.get("last_report") or {}
        alarm = ", ".join(r.get("flags") or []) or "-"
        rows.append("<tr><td>%d</td><td>%d</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>" % (
            d["device_id"], d["last_counter"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["last_seen"])),
            d["reports"], html.escape(alarm), html.escape(json.dumps({k: v for k, v in r.items()
                                                                      if k not in ("device", "flags")}))))
    rej = "".join("<tr><td>%s</td><td>%d</td></tr>" % (html.escape(k), v) for k, v in st["rejects"].items())
    return ("<!doctype html><meta http-equiv=refresh content=5><title>fieldnode collector</title>"
            "<h1>fieldnode collector</h1><h2>devices</h2><table border=1><tr><th>device<th>counter<th>last seen"
            "<th>reports<th>flags<th>last report</tr>%s</table><h2>refused</h2><table border=1>"
            "<tr><th>reason<th>count</tr>%s</table><p>%s</p>" % ("".join(rows), rej,
                                                                  html.escape(json.dumps(st["totals"]))))


def _loopback(host):
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Servers:
    """The running front ends. ``addresses``: e.g. ["udp://127.0.0.1:23080", ...]. ``close()`` stops them."""

    def __init__(self, collector, *, host="127.0.0.1", udp=DEFAULT_UDP, tcp=DEFAULT_TCP, http=DEFAULT_HTTP,
                 console=True, password=None):
        """``console``: serve the web console (console.py) on HTTP; ``password``: ask for it (HTTP Basic, any
        user name) on every console page. Bound to an address other than loopback, the console needs one: a
        ConfigError says so otherwise."""
        self.collector = collector
        self.addresses = []
        self._parts = []
        self.console = None
        if console and http is not None and http >= 0:
            if password is None and not _loopback(host):
                raise ConfigError(f"the console on {host} would show the fleet to anyone who can reach it",
                                  "give --password (or FIELDNODE_CONSOLE_PASSWORD), or bind 127.0.0.1")
            from .console import Console

            self.console = Console(collector, password)
        try:
            if udp is not None and udp >= 0:
                u = _UDP(collector, host, udp)
                u.start()
                self._parts.append(u)
                self.addresses.append(u.address)
            if tcp is not None and tcp >= 0:
                t = _TCP((host, tcp), _TCPHandler)
                t.collector = collector
                threading.Thread(target=t.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
                self._parts.append(t)
                self.addresses.append("tcp://%s:%d" % t.server_address)
            if http is not None and http >= 0:
                h = ThreadingHTTPServer((host, http), _HTTPHandler)
                h.daemon_threads = True
                h.collector = collector
                h.console = self.console
                threading.Thread(target=h.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
                self._parts.append(h)
                self.addresses.append("http://%s:%d" % h.server_address[:2])
        except OSError:
            self.close()
            raise

    @property
    def console_url(self):
        """http://HOST:PORT/ of the console, or None when it is not served."""
        for a in self.addresses:
            if a.startswith("http://") and self.console is not None:
                return a + "/"
        return None

    def close(self):
        if self.console is not None:
            self.console.close()
        for p in self._parts:
            if isinstance(p, _UDP):
                p.close()
            else:
                p.shutdown()
                p.server_close()
        self._parts = []
