"""Every URC the two dialects list, anywhere in the answer to every command the cellular drivers send: before the
echo, between echo and answer, between answer and final result, after it, and split across two reads at every byte.
The firmware's own engine and drivers (firmware/net) run against the transcripts of tests/transcripts.py on a fake
clock, under CPython here and under the MicroPython unix port in tests/test_net_transcripts_mpy.py."""

import pytest
import transcripts as T
from transcript_fakes import Clock, Modem, driver, replay, run_link

NAMES = list(T.DIALECTS)
OUTCOME, SLACK_MS = T.OUTCOME, T.SLACK_MS
BASE = {name: T.base(name) for name in NAMES}


def _phases(name):
    """The call of the run that sent each command: up, send, time or down."""
    sent = BASE[name]["sent"]
    first_send = next(i for i, c in enumerate(sent) if c.startswith(("AT+CAOPEN", "AT+QIOPEN")))
    first_time = max(i for i, c in enumerate(sent) if c in ("AT+CLTS=1", "AT+CTZU=1"))
    first_down = next(i for i, c in enumerate(sent) if c.startswith(("AT+CACLOSE", "AT+QICLOSE")))
    return ["up" if k < first_send else "send" if k < first_time else "time" if k < first_down else "down"
            for k in range(len(sent))]


@pytest.mark.parametrize("name", NAMES)
def test_the_clean_transcript(name):
    """Without URCs the drivers read everything right; the other tests compare with this run."""
    d, r = T.DIALECTS[name], BASE[name]
    assert r["up"] is True and r["up_err"] is None and r["send_err"] is None and r["down_err"] is None
    assert (r["iccid"], r["imsi"], r["imei"]) == (T.IDENT["iccid"], T.IDENT["imsi"], T.IDENT["imei"])
    assert r["fw"] == d["fw"] and r["registration"] == "roaming" and r["operator"] == "NTT DOCOMO"
    assert r["psm"] == {"active_s": 60, "tau_s": 3600, "t3324": "00011110", "t3412": "00000110"}
    assert r["reply"] == "ACK:rec-1" and r["time"] == 1714532400  # 2024-05-01 03:00:00 UTC
    assert r["history"] == ["searching", "roaming"] and r["stray"] == 0 and r["restarts"] == 0
    # the registration was polled (AT+CEREG? three times, the driver's +CEREG wait between)
    assert r["sent"].count("AT+CEREG?") == 3 and r["up_ms"] > 2000


def _urc_cases(name):
    return [(name, u) for u in T.DIALECTS[name]["urcs"]]


@pytest.mark.parametrize("name,urc", [c for n in NAMES for c in _urc_cases(n)])
def test_a_urc_anywhere_changes_nothing(name, urc):
    """For each command of the run and each position, with the whole answer in one read and byte by byte (echo
    kept on for the whole run in the byte-by-byte variant, so that 'before the echo' is always a different place
    from 'between echo and answer'): the same outcome as the clean run, no stray line, no longer on the clock."""
    d, base = T.DIALECTS[name], BASE[name]
    n = len(base["sent"])
    for k in range(n):
        for pos in T.POSITIONS:
            for chunk, keep_echo in ((0, False), (1, True)):
                r = run_link(d, [k, pos, urc], chunk, keep_echo)
                where = f"{urc!r} {T.POSITIONS[pos]} of {base['sent'][k]!r} (read {chunk or 'all'})"
                assert {x: r[x] for x in OUTCOME} == {x: base[x] for x in OUTCOME}, where
                assert r["stray"] == 0, where
                assert r["ms"] <= base["ms"] + SLACK_MS, where
                assert r["sent"] == base["sent"] or keep_echo, where  # no command sent again, none skipped


@pytest.mark.parametrize("name,banner", [(n, b) for n in NAMES for b in T.DIALECTS[n]["banners"]])
def test_a_restart_banner_anywhere_ends_the_step_at_once(name, banner):
    """RDY or a power-down URC says the module lost everything: the command in progress ends at once (no timeout
    waited out), up() starts over and succeeds, a send in progress reports the restart, and the restart handler saw
    the banner whatever its position."""
    d, base = T.DIALECTS[name], BASE[name]
    phases = _phases(name)
    for k in range(len(base["sent"])):
        phase = phases[k]
        # where the banner is seen: in the command's own answer, or (after its final result) by the next command
        seen = phases[k + 1] if k + 1 < len(phases) else "down"
        for pos in T.POSITIONS:
            r = run_link(d, [k, pos, banner, True])
            where = f"{banner!r} {T.POSITIONS[pos]} of {base['sent'][k]!r} ({phase})"
            assert r["restarts"] == 1, where
            assert r["up"] is True and r["up_err"] is None, where
            assert (r["iccid"], r["fw"], r["registration"]) == (base["iccid"], base["fw"], "roaming"), where
            hit = phase if pos < T.AFTER or base["calls"][k][6] is not None else seen
            if hit == "send":
                assert r["reply"] is None and "restarted" in r["send_err"], where
            elif hit != "up":
                assert r["reply"] == base["reply"], where
            if hit == "time":
                assert r["time"] is None and "network time" in r["time_err"], where
            # the step in progress ends at once: at most a redone up() (its attach poll included) on top
            assert r["ms"] <= base["ms"] + base["up_ms"] + SLACK_MS, where


def _calls(name):
    base = BASE[name]
    return [(name, k) for k in range(len(base["calls"]))]


def _expected(call, urc, pos, banners, echoed, urcs):
    """What the replayed command must give with `urc` injected at `pos`, and whether the URC reaches its
    registration: the clean result; a restart for a banner inside the step; the URC among the answer's lines when it
    has the answer's own prefix and form (+CPIN: READY inside AT+CPIN?'s answer says what the answer says) and the
    modem sent it after taking the command."""
    result, wait = call[7], call[6]
    if urc in banners:
        if pos < T.AFTER or wait is not None:
            return ["err", "restart"], None, True
        return result, wait, True
    w = wait
    b = urc.encode()
    if wait is not None and b.startswith(wait[0]) and (call[5] is not None or pos == T.AFTER):
        w = [wait[0], urc.encode()]  # the latch (or the wait after the final) takes the first such line: this one
    resp = call[1]
    u = next(x for x in urcs[0] + [(p, None, None) for t in urcs[1] for p in t] if b.startswith(x[0]))
    answer = resp is not None and b.startswith(resp) and (u[2] is None or not u[2](b))
    if answer and result[0] == "ok" and (pos in (T.ECHOED, T.ANSWERED) or (pos == T.BEFORE and not echoed)):
        lines = list(result[1])
        lines.insert(0 if pos < T.ANSWERED else len(lines), urc.encode())
        return ["ok", lines, result[2]], w, False
    return result, w, True


@pytest.mark.parametrize("name,k", [c for n in NAMES for c in _calls(n)])
def test_a_urc_split_across_two_reads_at_every_byte(name, k):
    """The k-th command of the clean run, replayed on a fresh engine with the driver's URC registrations: each URC
    and banner of the dialect injected at each position, and the bytes split into two reads at every boundary. The
    command's answer, the event waited for after it and the URC's routing (to its registration, exactly once, never
    stray) are the same at every split."""
    d, base = T.DIALECTS[name], BASE[name]
    cls = driver(d)
    link = cls(Modem(Clock(), d["table"]), d["cfg"])
    urcs = [link.at._urcs, link.at._known]
    call = [x.encode() if isinstance(x, str) else x for x in base["calls"][k][:6]] + base["calls"][k][6:]
    clean, offs = base["rec"][k]
    extra = d["urcs"] + d["banners"]
    clean_seen = replay(urcs, cls.BANNERS, call, [[0, clean]])[2]
    assert len(offs) == 4
    for urc, pos in [(u, p) for u in extra for p in T.POSITIONS]:
        at = offs[pos]
        line = b"\r\n" + urc.encode() + b"\r\n"
        # after a banner nothing more of the answer comes: the module rebooted
        stream = clean[:at] + line + (b"" if urc in d["banners"] else clean[at:])
        *want, routed = _expected(base["calls"][k], urc, pos, d["banners"], offs[1] > 0, urcs)
        for j in range(1, len(stream)):
            r, w, seen, stray = replay(urcs, cls.BANNERS, call, [[0, stream[:j]], [1, stream[j:]]])
            where = f"{urc!r} {T.POSITIONS[pos]} of {base['sent'][k]!r}, split after byte {j}"
            assert [r, w] == want, where
            assert stray == 0, where
            # routed once, by its registration (or, as above, one of the answer's lines)
            n = sum(1 for p, x in clean_seen if x == urc.encode())  # the same line as the clean answer's own
            assert sum(1 for p, x in seen if x == urc.encode()) == n + routed, where


# -- the three driver bugs of issue 14, each shown with the transcript that exposed it --------------------------------

_index, _table = T.index, T.table


@pytest.mark.parametrize("name,urc", [("sim7080g", "SMS Ready"), ("bg9x", "APP RDY"), ("bg9x", "+QIND: SMS DONE")])
def test_a_boot_urc_before_the_ok_is_not_the_firmware_revision(name, urc):
    """SMS Ready arriving inside AT+CGMR's answer was read as the firmware revision."""
    for pos in (T.ECHOED, T.ANSWERED):
        r = run_link(T.DIALECTS[name], [_index(name, "AT+CGMR"), pos, urc])
        assert r["fw"] == T.DIALECTS[name]["fw"], T.POSITIONS[pos]


@pytest.mark.parametrize("name", NAMES)
def test_a_cereg_urc_with_a_decimal_looking_tac_is_not_a_status(name):
    """+CEREG: 5,"1234",... (TS 27.007 10.1.22 URC form: <stat>,<tac>,...) was read as the read form <n>,<stat>: the
    tracking-area code 1234 became the registration status."""
    urc = '+CEREG: 5,"1234","01A2D101",7'
    # after registration, inside AT+COPS?'s answer: the status stays "roaming"
    r = run_link(T.DIALECTS[name], [_index(name, "AT+COPS?"), T.ANSWERED, urc])
    assert r["registration"] == "roaming" and r["history"] == ["searching", "roaming"]
    # inside the read that registers (before its own +CEREG: 4,5 line): no status 1234, no extra poll
    r = run_link(T.DIALECTS[name], [_index(name, "AT+CEREG?"), T.ECHOED, urc])
    assert r["history"] == ["searching", "roaming"] and r["ms"] <= BASE[name]["ms"] + SLACK_MS


def test_a_pdp_activation_urc_before_the_ok_does_not_stall_up():
    """+APP PDP: 0,ACTIVE before AT+CNACT=0,1's OK was missed: up() waited out its whole deadline."""
    d = _table("sim7080g", "AT+CNACT=0,1", after=[])  # the URC comes before the OK, and only then
    r = run_link(d, [_index("sim7080g", "AT+CNACT=0,1"), T.ANSWERED, "+APP PDP: 0,ACTIVE"])
    assert r["up"] is True and r["up_err"] is None and r["reply"] == "ACK:rec-1"
    assert r["up_ms"] <= BASE["sim7080g"]["up_ms"]  # no wait at all: the event had come


def test_a_socket_open_result_before_the_ok_is_not_missed():
    """The same for BG9x: +QIOPEN: 0,0 before AT+QIOPEN's OK (a fast network) must not leave send() waiting."""
    command = 'AT+QIOPEN=1,0,"UDP","uni.soracom.io",23080,0,0'
    d = _table("bg9x", command, after=[])
    r = run_link(d, [_index("bg9x", command), T.ANSWERED, "+QIOPEN: 0,0"])
    assert r["reply"] == "ACK:rec-1" and r["send_err"] is None and r["ms"] <= BASE["bg9x"]["ms"]


def test_a_caopen_result_after_the_ok_is_waited_for():
    """SIM7080 firmware that sends +CAOPEN: <cid>,<result> after the OK (as a URC) opens the socket all the same."""
    command = 'AT+CAOPEN=0,0,"UDP","uni.soracom.io",23080'
    r = run_link(_table("sim7080g", command, lines=[], after=[[150, "+CAOPEN: 0,0"]]))
    assert r["reply"] == "ACK:rec-1" and r["send_err"] is None


# -- URCs that do change something: the change is made, whatever the position -----------------------------------------

def test_registration_urc_during_the_signal_read_ends_the_poll():
    """+CEREG: 5 inside AT+COPS?'s answer while the driver polls for registration: it reads the registration back at
    once instead of waiting for the next URC (the poll's 2 s)."""
    k = _index("sim7080g", "AT+COPS?", 0)
    for pos in T.POSITIONS:
        r = run_link(T.DIALECTS["sim7080g"], [k, pos, "+CEREG: 5"])
        assert r["up"] is True and r["up_ms"] <= BASE["sim7080g"]["up_ms"] - 1900, T.POSITIONS[pos]


@pytest.mark.parametrize("name", NAMES)
def test_a_lost_registration_is_taken_from_the_one_field_urc(name):
    """+CEREG: 2 (URC form, mode 1: <stat> alone) after registration: the driver now knows it is searching."""
    for pos in T.POSITIONS:
        r = run_link(T.DIALECTS[name], [_index(name, "AT+COPS?"), pos, "+CEREG: 2"])
        assert r["registration"] == "searching" and r["history"] == ["searching", "roaming", "searching"]


@pytest.mark.parametrize("name,urc,command", [("sim7080g", "+APP PDP: 0,DEACTIVE", "AT+CNACT?"),
                                              ("bg9x", '+QIURC: "pdpdeact",1', "AT+QIACT?")])
def test_a_context_lost_during_activation_is_checked_again(name, urc, command):
    """The context's deactivation URC during the activation step may be newer than the answer: the driver asks
    again (one more read) rather than reporting a link that is down as up."""
    k = _index(name, command, 0)
    for pos in T.POSITIONS:
        r = run_link(T.DIALECTS[name], [k, pos, urc])
        assert r["up"] is True and r["reply"] == "ACK:rec-1", T.POSITIONS[pos]
        assert r["sent"].count(command) == 2, T.POSITIONS[pos]


def test_cereg_forms():
    from net.cell3gpp import cereg, cereg_urc

    # TS 27.007 10.1.22: URC +CEREG: <stat>[,[<tac>],[<ci>],[<AcT>][,<cause_type>,<reject_cause>[,<Active-Time>,
    # <Periodic-TAU>]]]; read +CEREG: <n>,<stat>[,...]
    assert cereg_urc(b"+CEREG: 2") and cereg_urc(b'+CEREG: 5,"1234","01A2D101",7') and cereg_urc(b"+CEREG: 1,,,7")
    assert cereg_urc(b"+CEREG: 5,1234,01A2D101,7")  # an unquoted <tac> is still no <stat> (more than 2 digits)
    assert not cereg_urc(b"+CEREG: 4,5") and not cereg_urc(b'+CEREG: 2,1,"1A2B","01A2D101",7')
    assert not cereg_urc(b"+CEREG: 0,10") and not cereg_urc(b"+CEREG: 4, 5 ,")
    assert cereg(b'+CEREG: 5,"1234","01A2D101",7,,,"00011110","00000110"') == (5, 7, "00011110", "00000110")
    assert cereg(b'+CEREG: 4,5,"1A2B","01A2D101",7,,,"00011110","00000110"') == (5, 7, "00011110", "00000110")
    assert cereg(b"+CEREG: 2") == (2, None, None, None) and cereg(b"+CEREG: 4,2") == (2, None, None, None)
    assert cereg(b"+CEREG: ?") is None and cereg(b"+CEREG:") is None
