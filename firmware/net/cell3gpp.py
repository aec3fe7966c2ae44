# What the 3GPP modems say the same way, parsed without I/O for the cellular drivers (net/cellular.py): the URCs
# TS 27.007 / TS 27.005 define or the modules print at boot, the two forms of +CEREG, and the identity answers.
# Pure logic: imports under CPython too (fieldnode.mpcompat.install()).
from net.at import fields

# URCs that need no handler in the drivers but may arrive anywhere, before, inside or after a command's answer, so
# the AT engine must never take them for an answer (net/at.py, AT.on). Each family adds its own (URCS in
# net/sim7080g.py, net/bg9x.py); those with a handler are registered where the handler is.
URCS = (
    b"+CPIN:",  # TS 27.007 8.3; printed unsolicited at boot and when AT+CFUN changes the SIM's state (both families)
    b"+CFUN:",  # "+CFUN: 1" at boot (SIM7080 and BG9x boot sequence: RDY, +CFUN: 1, +CPIN: READY, ...)
    b"+CREG:",  # TS 27.007 7.2 +CREG: <stat>[,...] when AT+CREG=1/2 was left on in the module's settings
    b"+CGREG:",  # TS 27.007 10.1.20, the same for GPRS
    b"+CGEV:",  # TS 27.007 10.1.19 packet domain events (AT+CGEREP)
    b"+CTZV:",  # TS 27.007 8.41 time zone reporting (AT+CTZR=1); SIMCom also prints it with AT+CLTS=1
    b"+CTZE:",  # TS 27.007 8.41 extended time zone reporting (AT+CTZR=2)
    b"+CEDRXP:",  # TS 27.007 7.40 eDRX parameters (AT+CEDRXS=2)
    b"+CSCON:",  # TS 27.007 10.1.30 signalling connection status (AT+CSCON=1)
    b"+CMTI:",  # TS 27.005 3.4.1 new SMS stored (AT+CNMI); an IoT SIM may still receive SMS
)


def cereg_urc(line):
    # True when a +CEREG: line has the URC form +CEREG: <stat>[,[<tac>],[<ci>],[<AcT>]...] rather than the read
    # form +CEREG: <n>,<stat>[,[<tac>],...] (TS 27.007 section 10.1.22). The read form's second field is <stat>,
    # an integer 0..10 (one or two digits); in the URC form it is <tac>, a string ("1A2B", quoted, in hexadecimal,
    # so it may look decimal: "1234"), empty, or absent (mode 1). No allocation: it runs on every +CEREG line.
    n = len(line)
    i = line.find(b",")
    if i < 0:
        return True
    j = i + 1
    while j < n and line[j] == 32:
        j += 1
    k = j
    v = 0
    while k < n and 48 <= line[k] <= 57:
        v = v * 10 + line[k] - 48
        k += 1
    if k == j or k - j > 2 or v > 10:
        return True
    while k < n and line[k] == 32:
        k += 1
    return k < n and line[k] != 44


def cereg(line):
    # (stat, act, active_time, periodic_tau) from either form of +CEREG (TS 27.007 section 10.1.22), the timers as
    # their TS 24.008 bit strings, None where absent; None for a garbled line (ignored, never fatal).
    f = fields(line, b"+CEREG:")
    o = 0 if cereg_urc(line) else 1
    if len(f) <= o or not f[o].isdigit():
        return None
    act = f[o + 3] if len(f) > o + 3 and f[o + 3].isdigit() else None
    t = (f[o + 6], f[o + 7]) if len(f) > o + 7 else (None, None)
    return int(f[o]), int(act) if act else None, t[0], t[1]


def digits(lines, prefix, least):
    # The first run of at least `least` digits in the reply lines (ICCID, IMSI, IMEI); a garbled line is skipped.
    for line in lines:
        if prefix is not None:
            if not line.startswith(prefix):
                continue
            line = line[len(prefix):]
        s = line.strip()
        if len(s) >= least and s.isdigit():
            return s.decode()
        # ICCIDs may end in a hex 'F' filler digit (ITU-T E.118)
        if len(s) >= least and s[:-1].isdigit() and s[-1:] in (b"F", b"f"):
            return s[:-1].decode()
    return None


def text(lines, prefix):
    # A text answer (AT+CGMR, TS 27.007 section 5.3: <revision> on a line of its own, some firmware "+CGMR: ..."):
    # the first line that is bare text or carries the command's own prefix; a "+XXX:" line of another command or an
    # unknown URC is not it.
    for line in lines:
        if line.startswith(prefix):
            line = line[len(prefix):].strip()
        elif line[:1] == b"+":
            continue
        try:
            return line.decode()
        except UnicodeError:  # garbled: the next line, or None
            pass
    return None
