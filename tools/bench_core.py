"""Feature-core benchmark: each kernel on the MicroPython unix port as viper, native and bytecode, and the same
computation in C built by ``gcc -O2`` here (the physical reference of this machine), in samples per second.

Viper is the firmware's ``core/kern.py``; native is ``core/twin.py`` compiled with ``@micropython.native``;
bytecode is ``core/twin.py`` as is. The C code does the same arithmetic in 32-bit ints (the same limb splits, the
same Goertzel product halves), so the ratio says what the emitter costs, not what the algorithm does. A naive
sum of squares with min/max (the issue's yardstick) is included. Targets: viper >= 20x bytecode, within 4x of C
built with plain ``gcc -O2`` (``c_over``).

gcc 12 and later vectorise at -O2 (SSE2 on x86-64, up to 8 samples per instruction), which MicroPython's emitters
never do; so a second C build, ``-O2 -fno-tree-vectorize``, is reported beside it (``c_scalar_over``) to show how
much of the gap is SIMD. The target stays against plain -O2.

Both sides are timed the same way: a calibration doubles the repetitions until one run takes over 60 ms, then
the best of RUNS runs of that many repetitions counts (the minimum is the least disturbed by other load on the
machine; the C numbers otherwise swing most, being the shortest per call).
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from fieldnode.paths import FIRMWARE, micropython_cmd  # noqa: E402

N = 4096
KERNELS = ("naive", "pass1", "pass2", "pass3", "goertzel", "magnitude")
RUNS = 5  # timed runs per kernel after calibration, best counts (both MicroPython and C)
C_BUILDS = (("C gcc -O2", ["-O2"]), ("C gcc -O2 scalar", ["-O2", "-fno-tree-vectorize"]))

_MPY = r"""
import time, micropython
from array import array
from core import kern, twin
N = %d
w = array('h', bytearray(2 * N))
seed = 12345
for i in range(N):
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    w[i] = (seed >> 8) %% 65536 - 32768
o = array('i', bytearray(4 * 20))
out = array('h', bytearray(2 * N))
# magnitude: three different axes within +-16384 (an accelerometer's +-2 g at 8192 counts/g), roots in [0, 28378]:
# the sum of squares never saturates, so every sample takes the square root
mx = array('h', bytearray(2 * N)); my = array('h', bytearray(2 * N)); mz = array('h', bytearray(2 * N))
for i in range(N):
    mx[i] = w[i] >> 1
    my[i] = w[(i * 7 + 1) %% N] >> 1
    mz[i] = w[(i * 13 + 5) %% N] >> 1

@micropython.viper
def naive_v(a, n: int, o):
    p = ptr16(a)
    q = ptr32(o)
    mn = 32767
    mx = -32768
    s = 0
    for i in range(n):
        v = int((p[i] ^ 0x8000) - 0x8000)
        s += v * v
        if v < mn:
            mn = v
        if v > mx:
            mx = v
    q[0] = mn
    q[1] = mx
    q[2] = s

# the yardstick in plain Python, run as bytecode and (decorated below) as native code
NAIVE = '''
def naive(a, n, o):
    mn = 32767
    mx = -32768
    s = 0
    for i in range(n):
        v = a[i]
        s += v * v
        if v < mn:
            mn = v
        if v > mx:
            mx = v
    o[0] = mn
    o[1] = mx
    o[2] = s & 0x3FFFFFFF
'''
byt = {}
exec(NAIVE, byt)
naive_b = byt['naive']

src = open(%r).read().replace('\ndef ', '\n@micropython.native\ndef ')
nat = {'micropython': micropython}
exec(src, nat)
exec(NAIVE.replace('\ndef ', '\n@micropython.native\ndef '), nat)

def call(name, impl):
    if name == 'naive':
        f = {'viper': naive_v, 'native': nat['naive'], 'bytecode': naive_b}[impl]
        return lambda: f(w, N, o)
    mod = {'viper': kern, 'bytecode': twin}.get(impl)
    f = getattr(mod, name) if mod else nat[name]
    if name == 'pass1':
        return lambda: f(0, 0, 0, w, N, o)
    if name == 'pass2':
        return lambda: f(0, 0, 0, w, N, -3, -3 * N, o)
    if name == 'pass3':
        return lambda: f(0, 0, 0, w, N, -3 * N, 0, 13, o)
    if name == 'goertzel':
        return lambda: f(0, 0, 0, w, N, -3, 3, 520000000, o)
    return lambda: f(0, 0, 0, mx, my, mz, out, N)

RUNS = %d
res = {}
for name in %r:
    for impl in ('viper', 'native', 'bytecode'):
        g = call(name, impl)
        reps = 1
        while True:
            t0 = time.ticks_us()
            for _ in range(reps):
                g()
            dt = time.ticks_diff(time.ticks_us(), t0)
            if dt > 60000:
                break
            reps *= 2
        best = dt
        for _ in range(RUNS):
            t0 = time.ticks_us()
            for _ in range(reps):
                g()
            dt = time.ticks_diff(time.ticks_us(), t0)
            if dt < best:
                best = dt
        res[name + ' ' + impl] = N * reps / best  # samples per microsecond
print(res)
"""

_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#define N 4096
static int16_t w[N], out[N], mx[N], my[N], mz[N];
static uint16_t sq[256];  /* core.fixed.SQRT_SEED */
static uint8_t ex[256];  /* core.fixed.SQRT_EXP */
static volatile int32_t sink[20];
typedef int32_t i32; typedef uint32_t u32;

static void naive(const int16_t *a, int n) {
    i32 mn = 32767, mx = -32768; int64_t s = 0;
    for (int i = 0; i < n; i++) { i32 v = a[i]; s += v * v; if (v < mn) mn = v; if (v > mx) mx = v; }
    sink[0] = mn; sink[1] = mx; sink[2] = (i32)s;
}
static void pass1(const int16_t *a, int n) {
    i32 v = a[0], mn = v, mx = v, s = v, ds = 0, dm = 0, prev = v;
    for (int i = 1; i < n; i++) {
        v = a[i]; if (v < mn) mn = v; if (v > mx) mx = v; s += v;
        i32 d = v - prev; if (d < 0) d = -d; ds += d; if (d > dm) dm = d; prev = v;
    }
    sink[0] = mn; sink[1] = mx; sink[2] = s; sink[3] = ds; sink[4] = dm;
}
static void pass2(const int16_t *a, int n, i32 m, i32 s) {
    i32 zc = 0, last = (a[0] * n - s) >> 31, ah = 0, sh = 0; u32 ad = 0, sq2 = 0;
    for (int i = 0; i < n; i++) {
        i32 t = a[i] * n - s, c = a[i] - m, g = t >> 31;
        zc -= g ^ last; last = g; t = (t ^ g) - g;
        ad += (u32)t; if (ad < (u32)t) ah++;
        u32 cc = (u32)c * (u32)c; sq2 += cc; if (sq2 < cc) sh++;
    }
    sink[5] = zc; sink[6] = ad & 0xFFFF; sink[7] = (ah << 16) + (ad >> 16);
    sink[8] = sq2 & 0xFFFF; sink[9] = (sh << 16) + (sq2 >> 16);
}
static void pass3(const int16_t *a, int n, i32 s, int left, int right) {
    u32 e2 = 0, f4 = 0; i32 eh = 0, fh = 0, u = s + (n << 15);
    for (int i = 0; i < n; i++) {
        i32 t = (((a[i] + 32768) * n - u) << left) >> right;
        u32 q = (u32)(t * t); e2 += q; if (e2 < q) eh++;
        u32 x = (q + 0x4000) >> 15; x *= x; f4 += x; if (f4 < x) fh++;
    }
    sink[11] = e2 & 0xFFFF; sink[12] = (eh << 16) + (e2 >> 16);
    sink[13] = f4 & 0xFFFF; sink[14] = (fh << 16) + (f4 >> 16);
}
static void goertzel(const int16_t *a, int n, i32 m, int sh, i32 c) {
    i32 ch = c >> 14, cl = c & 0x3FFF, s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        i32 x = (a[i] - m) >> sh, hh = s1 >> 14, hl = s1 & 0x3FFF;
        i32 s0 = x + ch * hh + ((ch * hl + cl * hh) >> 14) - s2; s2 = s1; s1 = s0;
    }
    sink[17] = s1; sink[18] = s2;
}
static void magnitude(const int16_t *x, const int16_t *y, const int16_t *z, int16_t *o, int n) {
    for (int i = 0; i < n; i++) {
        i32 ax = x[i], ay = y[i], az = z[i], k;
        u32 v = (u32)(ax * ax) + (u32)(ay * ay) + (u32)(az * az);
        if (v >= 0x3FFF0001u) { o[i] = 32767; continue; }
        if (v >= 0x400000u) k = ex[v >> 22] + 7; else if (v >= 0x4000u) k = ex[v >> 14] + 3;
        else if (v >= 0x40u) k = ex[v >> 6] - 1; else k = 0;
        i32 g = (sq[v >> (k + k)] << k) >> 8, r = (g + (i32)v / g) >> 1;
        r += ((i32)v - r * r) >> 31;
        o[i] = (int16_t)r;
    }
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
/* Calibrate to > 60 ms a run, then the best of RUNS runs of as many repetitions (as the MicroPython side). */
#define RUN(call) do { double t0 = now(); for (long r = 0; r < reps; r++) { call; __asm__ volatile("" ::: "memory"); } \
    dt = now() - t0; } while (0)
#define BENCH(label, call) do { long reps = 1; double dt, best; \
    for (;;) { RUN(call); if (dt > 0.06) break; reps *= 2; } \
    best = dt; for (int k = 0; k < RUNS; k++) { RUN(call); if (dt < best) best = dt; } \
    printf("%s\"%s\": %.3f", first ? "" : ", ", label, N * reps / best / 1e6); first = 0; } while (0)
int main(void) {
    uint32_t seed = 12345; int first = 1;
    for (int i = 0; i < N; i++) {
        seed = (seed * 1103515245u + 12345u) & 0x7FFFFFFF; w[i] = (int16_t)((seed >> 8) % 65536 - 32768);
    }
    for (int i = 0; i < N; i++) {
        mx[i] = w[i] >> 1; my[i] = w[(i * 7 + 1) % N] >> 1; mz[i] = w[(i * 13 + 5) % N] >> 1;
    }
    for (int j = 1; j < 256; j++) { int b = 0, x = j; while (x) { x >>= 1; b++; } ex[j] = (b + 1) >> 1; }
    sq[0] = 256;
    for (int i = 1; i < 256; i++) { uint32_t r = 0; while ((r + 1) * (r + 1) <= 65536u * i + 32768u) r++; sq[i] = r; }
    printf("{");
    BENCH("naive", naive(w, N));
    BENCH("pass1", pass1(w, N));
    BENCH("pass2", pass2(w, N, -3, -3 * N));
    BENCH("pass3", pass3(w, N, -3 * N, 0, 13));
    BENCH("goertzel", goertzel(w, N, -3, 3, 520000000));
    BENCH("magnitude", magnitude(mx, my, mz, out, N));
    printf("}\n");
    return 0;
}
"""


def run_c():
    """{build label: {kernel: Msamples/s}} for each of C_BUILDS, or (None, why) without gcc."""
    cc = shutil.which("gcc")
    if not cc:
        return None, "gcc not found"
    got = {}
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "core.c"
        src.write_text(_C)
        for label, flags in C_BUILDS:
            exe = Path(d) / "core"
            p = subprocess.run([cc, *flags, f"-DRUNS={RUNS}", "-o", str(exe), str(src)], capture_output=True,
                               text=True)
            if p.returncode:
                return None, p.stderr.strip().splitlines()[-1]
            out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
            got[label] = json.loads(out)
    return got, ""


def run_mpy():
    code = _MPY % (N, str(FIRMWARE / "core" / "twin.py"), RUNS, KERNELS)
    env = {"MICROPYPATH": f"{FIRMWARE}:.frozen", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([micropython_cmd(), "-X", "heapsize=2m", "-c", code], capture_output=True, text=True,
                       env=env, timeout=600)
    if p.returncode:
        raise RuntimeError(f"MicroPython benchmark failed: {(p.stderr or p.stdout).strip().splitlines()[-1]}")
    import ast

    return ast.literal_eval(p.stdout.strip())


def run():
    print("  feature kernels on MicroPython (viper, native, bytecode) ...", file=sys.stderr)
    mp = run_mpy()
    print("  the same in C (gcc -O2, and -O2 -fno-tree-vectorize) ...", file=sys.stderr)
    c, why = run_c()
    rows = []
    for k in KERNELS:
        byte = mp[f"{k} bytecode"]
        for impl in ("viper", "native", "bytecode"):
            v = mp[f"{k} {impl}"]
            row = {"group": "core", "name": f"{k} {impl}", "value": round(v, 2), "unit": "Msamples/s",
                   "x_bytecode": round(v / byte, 1)}
            if c:
                row["c_over"] = round(c["C gcc -O2"][k] / v, 2)  # the target: <= 4 for viper
                row["c_scalar_over"] = round(c["C gcc -O2 scalar"][k] / v, 2)
            rows.append(row)
        for label, _ in C_BUILDS:
            rows.append({"group": "core", "name": f"{k} {label}", "value": round(c[label][k], 1) if c else None,
                         "unit": "Msamples/s",
                         **({"x_bytecode": round(c[label][k] / byte, 1)} if c else {"note": why})})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
