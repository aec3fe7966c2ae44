"""The lab: virtual boards put to work against a real collector, on virtual time.

- ``scenario.py``: what a fleet run simulates (a small JSON file: board, devices, duration, faults), validated.
- ``fleet.py``: ``FleetRun``, many boards and one collector stepping together (``fieldnode sim run``, ``make demo``).
- ``variation.py`` and ``plan.py``: what makes each device of a fleet differ, and what it gets from the scenario
  (its traits, the faults that reach it), by its index; ``shards.py``: a fleet in shards and their merge.
- ``report.py``: a run's summary as text and as a self-contained HTML page.
- ``harness.py``: ``Board``, one virtual board driven over its raw REPL as a developer drives a real one (the
  ``fieldnode.testing`` pytest plugin's boards).
- ``local_collector.py``: ``LocalCollector``, the real collector on free 127.0.0.1 ports for such boards.

Everything here stands on ``fieldnode.sim`` (the virtual board) and ``fieldnode.collector``; nothing below imports it.
"""
