"""A small atomic config/state store: a dict saved as JSON, replaced whole by write-then-rename (store.atomic).

    cfg = KV("/state.json")
    st = cfg.load({"interval": 600})
    st["interval"] = 300
    cfg.save(st)          # after a power cut, load() returns either the old or the new dict, never a mix
"""

import json

from store import atomic


class KV:
    def __init__(self, path):
        self.path = path

    def load(self, default=None):
        """The saved dict, or a copy of ``default`` (or {}) when nothing valid was ever saved."""
        raw = atomic.read(self.path)
        if raw is not None:
            try:
                v = json.loads(raw)
                if isinstance(v, dict):
                    return v
            except ValueError:
                pass
        return dict(default or {})

    def save(self, d):
        atomic.write(self.path, json.dumps(d).encode())
