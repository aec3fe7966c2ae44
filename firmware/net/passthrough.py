# AT passthrough for field diagnostics: the host runs these functions through the raw REPL (fieldnode modem PORT,
# host/fieldnode/modem.py) to talk to the modem on the board's UART.
#
#     import net.passthrough as p
#     p.at("AT+CSQ", 2000, 1, 115200)          # prints the modem's reply lines until its final result code
#     p.diagnose("sim7080g", 1, 115200, 4, '{"apn": "soracom.io"}', 60000)   # prints one JSON line of facts
#
# On a board that wires the modem's DTR (``dtr`` below) the modem may be asleep with DTR high, its UART deaf, left
# so by the application's last cycle (net/cellpower.py, UART sleep): DTR is driven low first, which wakes it.
#
# Output is text, one reply line per printed line; bytes that are not printable ASCII are shown as \xNN so a
# garbled modem never breaks the host's terminal.
import sys
import time

from machine import UART

_uart = None
_FINALS = (b"OK", b"ERROR", b"SEND OK", b"SEND FAIL", b"NORMAL POWER DOWN", b"POWERED DOWN")


def _open(uart_id, baud, tx=None, rx=None):
    global _uart
    if _uart is None:
        kw = {}
        if tx is not None:
            kw["tx"] = tx
        if rx is not None:
            kw["rx"] = rx
        _uart = UART(uart_id, baud, **kw)
    return _uart


def _show(line):
    out = []
    for b in line:
        out.append(chr(b) if 32 <= b < 127 else "\\x%02x" % b)
    sys.stdout.write("".join(out) + "\n")


def _final(line):
    return line in _FINALS or line.startswith(b"+CME ERROR:") or line.startswith(b"+CMS ERROR:")


def _wake(dtr):
    if dtr is not None:
        from machine import Pin

        from net.cellpower import drive as _drive

        _drive(Pin(dtr, Pin.OUT), 0, False)
        time.sleep_ms(50)  # TinyGSM's SIM70xx figure; a BG9x that needs longer makes the first try time out


def _lines(u, buf):
    # complete lines received so far, and what is left of an unfinished one
    n = u.any()
    if n:
        buf += u.read(n)
    out = []
    while b"\n" in buf:
        ln, buf = buf.split(b"\n", 1)
        ln = ln.strip()
        if ln:
            out.append(ln)
    return out, buf


def _sync(u, earlier, tries=3):
    # The node this command interrupted may have left a command of its own in flight (its answer, an OK, is still
    # on its way) or half a command line in the modem's buffer. A marker command whose answer no other command
    # gives, AT+CMEE? (3GPP TS 27.007 9.1: "+CMEE: <n>"), is sent until its answer and final OK come back:
    # everything before them belongs to earlier commands and is shown apart, never as the technician's reply.
    u.write(b"\r")  # ends a half-typed line (the modem answers it with ERROR, which lands in ``earlier``)
    time.sleep_ms(20)
    buf = b""
    for _ in range(tries):
        u.write(b"AT+CMEE?\r")
        end = time.ticks_add(time.ticks_ms(), 1500)
        seen = False
        while time.ticks_diff(end, time.ticks_ms()) > 0:
            got, buf = _lines(u, buf)
            for ln in got:
                if ln.startswith(b"+CMEE:"):
                    seen = True
                elif seen and ln == b"OK":
                    return True
                elif ln != b"AT+CMEE?":
                    seen = False
                    earlier.append(ln)
            if not got:
                time.sleep_ms(10)
    return False


def at(line, timeout_ms=5000, uart_id=1, baud=115200, tx=None, rx=None, dtr=None):
    # Send one command line and print every line until a final result code, a '>' prompt or the timeout. Lines
    # that came before the command's own answer (URCs, the tail of a command the interrupted node had sent) are
    # printed with a "~ " prefix, so the host never takes them for this command's reply.
    u = _open(uart_id, baud, tx, rx)
    _wake(dtr)
    earlier = []
    buf = b""
    while u.any():  # what was waiting (URCs) is shown first, as the modem said it
        buf += u.read(u.any())
    earlier.extend(ln.strip() for ln in buf.split(b"\n") if ln.strip())
    synced = _sync(u, earlier)
    for ln in earlier:
        sys.stdout.write("~ ")
        _show(ln)
    if not synced:
        sys.stdout.write("(the modem did not answer AT+CMEE? before the command)\n")
    buf = b""
    u.write(line.encode() + b"\r")
    end = time.ticks_add(time.ticks_ms(), timeout_ms)
    while True:
        n = u.any()
        if n:
            buf += u.read(n)
            while b"\n" in buf:
                ln, buf = buf.split(b"\n", 1)
                ln = ln.strip()
                if ln and ln != line.encode():
                    _show(ln)
                    if _final(ln):
                        return
            if buf.strip() == b">":
                _show(b">")
                return
            continue
        if time.ticks_diff(end, time.ticks_ms()) <= 0:
            if buf.strip() and buf.strip() != line.encode():
                _show(buf.strip())
            sys.stdout.write("(no final result within %d ms)\n" % timeout_ms)
            return
        time.sleep_ms(10)


def diagnose(modem, uart_id, baud, pwrkey, cfg_json, deadline_ms, dtr=None):
    # Run the real driver's up() and print its facts (identity, registration history, signal, errors) as JSON.
    import json

    from machine import Pin

    cfg = json.loads(cfg_json) if cfg_json else {}
    u = _open(uart_id, baud)
    pin = Pin(pwrkey, Pin.OUT) if pwrkey is not None else None
    if modem == "sim7080g":
        from net.sim7080g import SIM7080G as Link
    else:
        from net.bg9x import BG9x as Link
    link = Link(u, cfg, pwrkey=pin, dtr=Pin(dtr, Pin.OUT) if dtr is not None else None)
    t0 = time.ticks_ms()
    ok = link.up(deadline_ms)
    info = link.info()
    info["up"] = ok
    info["up_ms"] = time.ticks_diff(time.ticks_ms(), t0)
    info["at_stray"] = link.at.stray
    info["at_timeouts"] = link.at.timeouts
    if ok:
        link.down(psm=True)
    print(json.dumps(info))
