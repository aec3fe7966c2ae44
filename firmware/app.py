"""The wake cycle: what the board does each time it wakes, then deep sleep.

    boot -> config (last good on error) -> sample -> features -> detect -> policy -> queue
         -> [link up -> send batches -> apply acks and downlinks -> link down / PSM] -> deep sleep

A watchdog guards every step (``WDT_MS``; the longest step is a cellular attach, bounded by the link's own
deadline). A boot loop -- three boots in a row that did not complete a cycle (crash, watchdog, brown-out while
awake) -- enters safe mode: the device says why, tries once to report it, and stays at the REPL without starting
the watchdog, so a technician can connect. Any error inside a cycle is printed and ends in ``machine.reset()``,
never in a board left awake at the REPL draining its battery.

Files: ``config.json`` (appconfig.py), ``key.bin`` (16-byte device key from provisioning), ``q/`` (the flash queue),
``state.json`` (what must survive a power cut: resets, applied downlink commands and their settings, the time the
clock was last set to and the windows of reports whose times are corrected as they are sent: timesync.py). RTC
memory holds the rest (rtcstate.py).
"""

import sys
import time

import machine
from micropython import const

import rtcstate

WDT_MS = const(180000)  # longer than the longest step: the attach deadline below plus a send
ATTACH_MS = const(120000)  # cellular registration and context activation (SIM7080G/BG9x manuals: up to 150 s)
REPLY_MS = const(10000)  # wait for the collector's ack to one uplink
MAX_BATCH = const(12)  # reports per uplink: 12 x 25 B + header and tag stays under SORACOM's ~1 KB per send
QUEUE_BYTES = const(32768)
SAFE_AFTER = const(3)  # boots without a completed cycle before safe mode
TS_SYNCED = 1577836800  # proto/schema.py TS_SYNCED: a clock before 2020-01-01 was never set
STATE = "state.json"
KEY = "key.bin"
QUEUE = "q"  # the flash queue's directory (store/queue.py)


def log(msg):
    print("fieldnode:", msg)


def now_ms():
    # Unix milliseconds from the RTC: time_ns() where the port has it (the ESP32 port does), whole seconds if not
    f = getattr(time, "time_ns", None)
    return f() // 1000000 if f is not None else time.time() * 1000


class App:
    def __init__(self, rtc=None):
        self.rtc = rtc or machine.RTC()
        self.st = rtcstate.State().load(self.rtc.memory())
        self.cause = machine.reset_cause()
        self.t0 = time.ticks_ms()
        self.wdt = None
        self.kv = None
        self.pstate = None

    def save_rtc(self):
        self.rtc.memory(self.st.dump())

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    # -- persisted state (flash): resets, applied commands -----------------------------------------------------
    def load_pstate(self):
        from store.kv import KV

        self.kv = KV(STATE)
        self.pstate = self.kv.load({"resets": 0, "cmd": 0})
        if self.cause != machine.DEEPSLEEP_RESET:
            self.pstate["resets"] = self.pstate.get("resets", 0) + 1
            self.kv.save(self.pstate)

    # -- the cycle ---------------------------------------------------------------------------------------------
    def run(self):
        st = self.st
        st.attempts += 1
        self.save_rtc()  # counted before anything can crash
        if st.attempts > SAFE_AFTER:
            return self.safe_mode()
        import appconfig

        cfg, problem = appconfig.load()
        if problem:
            log(problem)
        if cfg is None:
            st.attempts = 0
            self.save_rtc()
            log("not provisioned: staying at the REPL")
            return "unprovisioned"
        self.wdt = machine.WDT(timeout=WDT_MS)
        self.load_pstate()
        now = time.time()
        pol = dict(cfg["policy"])
        if self.pstate.get("interval"):
            pol["sample_s"] = self.pstate["interval"]
        import board

        b = board.load()
        self.feed()
        vib = cfg["vibration"]
        every = vib["every"]
        with_vib = every > 0 and st.cycles % every == 0
        node = None
        if cfg.get("node"):  # a declared node (node.py): its measurements and report instead of the fixed ones
            import gc

            gc.collect()  # the config's JSON and the validator (unloaded) are garbage: free them before loading more
            node = __import__("nodecycle").Node(cfg.pop("node"))  # no local name: release() can unload it
            r = node.take(b)
        else:
            import measure

            r = measure.take(b, vib, with_vib)
        b.sensor_power(False)
        self.feed()
        flags = self.detect(cfg, r)
        if node is not None:
            flags |= node.detect(r, st)
        from store.queue import Queue

        q = Queue(QUEUE, QUEUE_BYTES)
        qs = q.stats()
        if time.time() < TS_SYNCED and not st.clock_from:
            st.clock_from = qs["next"]  # reports from here on count from this power-on (timesync.window)
            self.save_rtc()
        import policy

        alarm_now = flags & 0x07  # FLAG_ANOMALY | FLAG_HIGH | FLAG_LOW
        changed = alarm_now != st.alarm
        act = policy.decide(pol, now, st.last_summary, st.last_uplink, st.last_attempt, st.failures, changed,
                            qs["depth"])
        if r.vibration and r.rms_mg > st.rms_max:
            st.rms_max = r.rms_mg
        boot = self.cause != machine.DEEPSLEEP_RESET
        if act & (policy.SUMMARY | policy.ALARM | policy.HEARTBEAT) or boot or problem:
            self.report(q, now, flags, r, act, boot, problem, qs)
            if act & policy.SUMMARY:
                st.last_summary = now
                st.rms_max = 0
        st.alarm = alarm_now
        if node is not None:
            r = node.release(r)  # the node's code and buffers go before the modem driver needs the heap
            node = None
        sent = 0
        import loader  # hook, issue 9.5 (app updates): a version on trial, or a rollback to report, uplinks

        if act & policy.UPLINK or (boot and st.fresh) or loader.busy():
            sent = self.uplink(b, cfg, q, now)
        st.attempts = 0
        st.cycles += 1
        self.save_rtc()
        elapsed = time.ticks_diff(time.ticks_ms(), self.t0)
        import gc

        qs = q.stats()
        log("cycle %d: %d.%02d C, rms %d mg, p2p %d mg, flags 0x%02x, seq %d, queue %d, sent %d, awake %d ms, "
            "heap %d" % (st.cycles, r.temp_c100 // 100, r.temp_c100 % 100, r.rms_mg, r.p2p_mg, flags,
                         qs["next"] - 1, qs["depth"], sent, elapsed, gc.mem_alloc()))
        sleep_ms = pol["sample_s"] * 1000 - elapsed
        return sleep_ms if sleep_ms > 1000 else 1000

    def detect(self, cfg, r):
        from core import detector as D
        from proto import schema as S

        st = self.st
        flags = 0
        if r.vibration:
            d = D.make(cfg["detector"], D.RESOLUTION_RMS_MG)  # the RMS is in whole mg
            if not st.fresh:
                try:
                    d.from_bytes(st.detector)
                except ValueError:
                    d.reset()
            ev = d.update(r.rms_mg)
            st.detector = bytes(d.to_bytes())
            if ev & D.ACTIVE:
                flags |= S.FLAG_ANOMALY
        else:
            flags |= st.alarm & S.FLAG_ANOMALY  # no new window this cycle: the alarm state stands
        thr = self.pstate.get("thr") or {}
        alarm = cfg["alarm"]
        rms_high = thr.get("0", thr.get(0, alarm.get("rms_high_mg")))
        temp_high = thr.get("1", thr.get(1, alarm.get("temp_high_c100")))
        if rms_high is not None and r.vibration and r.rms_mg > rms_high:
            flags |= S.FLAG_HIGH
        if temp_high is not None and r.temp_c100 > temp_high:
            flags |= S.FLAG_HIGH
        if r.errors:
            flags |= S.FLAG_SENSOR_ERR
        if r.batt_mv and r.batt_mv < alarm.get("lowbat_mv", 3400):
            flags |= S.FLAG_LOWBAT
        return flags

    def report(self, q, now, flags, r, act, boot, problem, qs):
        import policy
        from proto import codec
        from proto import schema as S

        if boot:
            flags |= S.FLAG_BOOT
        if act & policy.HEARTBEAT:
            flags |= S.FLAG_HEARTBEAT
        rms = self.st.rms_max if act & policy.SUMMARY and self.st.rms_max > r.rms_mg else r.rms_mg
        values = (now, flags, r.temp_c100, r.batt_mv, rms, r.p2p_mg, r.zc, r.band_mg)
        health = None
        ps = self.pstate
        if boot or problem or act & policy.HEARTBEAT or ps.get("diag"):
            health = (ps.get("rssi", -128), qs["depth"], ps.get("resets", 0), self.cause, qs["dropped"])
            if ps.get("diag"):
                ps["diag"] = 0
                self.kv.save(ps)
        q.append(r.encode(now, flags, health) if hasattr(r, "layout") else codec.encode_report(values, health))

    def make_link(self, b, lcfg):
        lc = dict(lcfg)
        kind = lc.pop("kind", "cellular")
        if kind == "wifi":
            from net.wifi import WiFi

            return WiFi(lc)
        m = b.data.get("modem") or {}
        import gc

        gc.collect()  # the modem driver is the largest import of the cycle: the readings' garbage goes first
        if m.get("type") == "sim7080g":
            from net.sim7080g import SIM7080G as Modem
        else:
            from net.bg9x import BG9x as Modem
        pk = b.pin("pwrkey")
        pwrkey = machine.Pin(pk, machine.Pin.OUT, value=0) if pk is not None else None
        d = b.pin("dtr")  # the link sets its level (and releases the hold the last cycle left on it)
        dtr = machine.Pin(d, machine.Pin.OUT) if d is not None else None
        return Modem(b.modem_uart(), lc, pwrkey=pwrkey, dtr=dtr)

    def uplink(self, b, cfg, q, now):
        from proto import codec, commands

        st = self.st
        try:
            with open(KEY, "rb") as f:
                key = f.read()
        except OSError:
            log("no key.bin: provision the device (fieldnode provision)")
            return 0
        dev = cfg["device_id"]
        link = self.make_link(b, cfg.get("link") or {})
        st.last_attempt = now
        self.feed()
        ok = link.up(ATTACH_MS)
        self.feed()
        sent = 0
        if ok and time.time() < TS_SYNCED:
            now += self.sync_clock(link, q)
        if ok:
            import timesync

            ps = self.pstate
            while True:
                batch = q.peek(MAX_BATCH)
                batch = batch[:codec.fit([rec for _, rec in batch])]  # node reports can be longer than fixed ones
                if not batch:
                    break
                ack = commands.cmd_ack(ps) if ps.get("ackp") else None
                wins = self.pstate.get("tfix")
                recs = [timesync.stamp(wins, s, rec) for s, rec in batch] if wins else [rec for _, rec in batch]
                node = any(rec[0] == codec.NODE_MARK for rec in recs)  # node reports (node.py): a version 4 uplink
                data = codec.encode_uplink(key, dev, batch[0][0], recs, ack,
                                           codec.VERSION_NODE if node else codec.VERSION)
                if batch[-1][0] > st.sent_hw:
                    st.sent_hw = batch[-1][0]  # before it leaves: these bytes are now the ones for these counters
                    self.save_rtc()
                t0 = time.ticks_ms()
                reply = link.send(data, REPLY_MS)
                rtt = time.ticks_diff(time.ticks_ms(), t0)
                self.feed()
                if reply is None:
                    ok = False
                    break
                try:
                    acked, cmds, t_ack = codec.parse_reply(key, dev, reply)
                except ValueError as e:
                    log("reply refused: %s" % (e.args[0],))
                    ok = False
                    break
                if ack is not None:
                    ps["ackp"] = 0
                q.ack(acked)
                sent += sum(1 for s, _ in batch if s <= acked)
                if t_ack is not None and acked == batch[-1][0]:  # the answer to this very uplink (timesync.py)
                    now += self.ack_time(t_ack, rtt, q)
                if cmds:
                    self.apply(cmds)
                if acked < batch[-1][0]:
                    break  # the collector stored less than was sent: try again next time
            wins = self.pstate.get("tfix")
            if wins:
                left = timesync.prune(wins, q.stats()["acked"])
                if len(left) != len(wins):
                    self.pstate["tfix"] = left
                    self.kv.save(self.pstate)
            import loader  # hook, issue 9.5 (app updates, update.py): confirm, report a rollback, fetch an offer

            if ok and (self.pstate.get("upd") or loader.busy()):
                import update

                update.after_delivery(self, link, key, dev, sent, b.data.get("name"))
            info = link.info()
            rssi = info.get("dbm") if info.get("dbm") is not None else info.get("rssi_dbm")
            if rssi is not None and rssi != self.pstate.get("rssi"):
                self.pstate["rssi"] = rssi
                self.kv.save(self.pstate)
        else:
            log("link down: %s" % (link.last_error,))
        try:
            link.down(psm=True)
        except OSError:
            pass
        if ok:
            st.failures = 0
            st.last_uplink = now
        else:
            st.failures += 1
        return sent

    def sync_clock(self, link, q):
        # After a power loss the RTC counts from 1970 (ESP32 port; it keeps time only across deep sleep and
        # resets). Set it from the network's time (cellular: NITZ, AT+CCLK?); return the step in seconds (0 when the
        # network gave no time: the collector's acknowledgement sets it then, ack_time).
        t = link.time()
        if t is None:
            log("no network time: the collector's acknowledgement sets the clock")
            return 0
        if t < self.pstate.get("tset", 0):
            log("network time %d is before the clock was last set (%d): not taken" % (t, self.pstate["tset"]))
            return 0
        return self.set_clock(t * 1000, q, "the network")

    def ack_time(self, t_ack, rtt_ms, q):
        # The collector's time from a verified reply to the uplink just sent (timesync.py: when it is taken and
        # why); the step in seconds, 0 when the clock stays as it is.
        import timesync

        dev_ms = now_ms()
        step = timesync.ack_step_ms(dev_ms, t_ack, rtt_ms, self.pstate.get("tset", 0))
        if step is None:
            return 0
        return self.set_clock(dev_ms + step, q, "the collector")

    def set_clock(self, t_ms, q, source):
        # Set the RTC to t_ms (Unix ms) and move the times this cycle already recorded by the same step. The time
        # set and the window of reports queued since the power-on (timesync.window) go to flash first: a reset
        # between the two leaves a window whose step is still right for the unset clock, never a moved clock
        # whose reports nobody can correct. Returns the step in whole seconds.
        import timesync

        st = self.st
        ps = self.pstate
        before = now_ms()
        step = (t_ms - before + 500) // 1000
        ps["tset"] = t_ms // 1000
        if st.clock_from and timesync.unset(before // 1000):
            wins = ps.get("tfix") or []
            w = timesync.window(st.clock_from, st.sent_hw, q.stats()["next"], step)
            ps["tfix"] = timesync.add(wins, w)
            if w is not None and ps["tfix"] is not wins:
                log("reports %d..%d made before: times corrected by %d s as they are sent" % (w[0], w[1], step))
        self.kv.save(ps)
        g = time.gmtime(t_ms // 1000)
        # RTC.datetime: (year, month, day, weekday, hours, minutes, seconds, microseconds) on the ESP32 port
        self.rtc.datetime((g[0], g[1], g[2], g[6], g[3], g[4], g[5], (t_ms % 1000) * 1000))
        if st.last_summary:
            st.last_summary += step
        if st.last_uplink:
            st.last_uplink += step
        if st.last_attempt:
            st.last_attempt += step
        st.clock_from = 0
        self.save_rtc()
        log("clock set from %s: %d (step %d s)" % (source, t_ms // 1000, step))
        return step

    def apply(self, cmds):
        from proto import commands

        new, reboot = commands.apply(self.pstate, cmds)
        if new is not self.pstate:
            new["ackp"] = 1
            self.kv.save(new)  # the whole batch at once: write-then-rename
            self.pstate = new
            log("applied %d command(s)" % len(cmds))
        if reboot:
            self.save_rtc()
            machine.reset()

    def safe_mode(self):
        log("safe mode: %d boots without completing a cycle (last reset cause %d); REPL stays open" % (
            self.st.attempts - 1, self.cause))
        return "safe"


def main():
    app = App()
    try:
        res = app.run()
    except Exception as e:  # noqa: BLE001 - any failure must end in a reset, not a board awake at the REPL
        sys.print_exception(e)
        log("cycle failed: %r; resetting" % (e,))
        time.sleep_ms(100)
        machine.reset()
        return
    if isinstance(res, int):
        machine.deepsleep(res)
