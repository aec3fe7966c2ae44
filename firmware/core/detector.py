"""The node's anomaly detector: the one place its defaults live, and the choice of method.

    from core import detector
    d = detector.make(cfg)          # cfg: the config's "detector" object ({} for the defaults)
    ev = d.update(reading)
    if ev & detector.RAISED: ...

``DEFAULTS`` is the detector every node, ``fieldnode detect`` and the fleet simulator run when their config says
nothing else (host/fieldnode/data/detector.json holds only the host's replay settings). ``"method"`` picks the
implementation:

- ``"surprise"`` (the default, ``core/surprise.py``): an anomaly likelihood of a short mean of the raw surprise
  against its own history (HTM's likelihood on an EWMA baseline), a hold-off after each raise. Chosen by
  leave-one-category-out cross-validation on 24 NAB series (tools/nab_cv.py; README "Detector scores").
- ``"baseline"`` (``core/baseline.py``): EWMA level and spread with absolute, rate-of-change and flat-line
  triggers, k-of-n debounce; the keys it knew before.

Both keep STATE_SIZE (32) bytes of state that the wake cycle stores in RTC memory (rtcstate.py): kept across deep
sleep and resets, lost with power, after which the detector learns again from a fresh warm-up. The surprise
detector's seasonal channel (``"period"`` > 0: readings per day; ``fieldnode detect`` takes it from the CSV's
timestamps) adds a 96-bin daily profile: 440 bytes in all, which rtcstate keeps in a CRC-checked tail; the node
default is period 0.

``RESOLUTION_RMS_MG`` is what the reading itself adds when the input is the vibration RMS in whole mg (the wake
cycle's feature): its resolution, under the node's own keys. The likelihood is relative, so on a quiet motor whose
RMS flips between two whole-mg steps a run of flips can look unlikely; a raise then also needs the reading
``min_surprise`` spreads, floored at ``min_spread`` mg, from its baseline (make demo: 8 false alarm reports in the
week before the bearing fault without it, 0 with it, the fault still found 1 min after it began).
"""

from micropython import const

from core import baseline, surprise

RAISED = const(1)
CLEARED = const(2)
ACTIVE = const(4)
HIT = const(8)
WARMUP = const(16)
STATE_SIZE = const(32)

DEFAULTS = surprise.DEFAULTS
RESOLUTION_RMS_MG = {"min_spread": 2, "min_surprise": 2}
_METHODS = {"surprise": surprise, "baseline": baseline}


def _module(cfg):
    if not isinstance(cfg, dict):
        raise ValueError("detector config must be a JSON object (a dict), got %s" % type(cfg).__name__)
    m = cfg.get("method", DEFAULTS["method"])
    if m not in _METHODS:
        raise ValueError("detector config 'method' = %r: give \"surprise\" or \"baseline\"" % (m,))
    return _METHODS[m]


def validate(cfg):
    """Check a config dict; return it complete (defaults filled in). ValueError names the key."""
    return _module(cfg).validate(cfg)


def make(cfg=None, resolution=None):
    """A detector for the config dict (None or {}: DEFAULTS); ``resolution`` (e.g. RESOLUTION_RMS_MG) fills in the
    input's resolution keys where the config does not set them."""
    cfg = cfg or {}
    mod = _module(cfg)
    if resolution and mod is surprise:
        cfg = dict(resolution, **cfg)
    return mod.Surprise(cfg) if mod is surprise else mod.Baseline(cfg)
