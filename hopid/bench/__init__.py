"""``hopid bench``: each stage measured side by side with the raw library doing the same work,
with the same settings, the two sides warmed up and taking turns (:mod:`hopid.bench.timing`).

:func:`hopid.bench.run.run_bench` returns one flat dict of figures (the keys ``hopid bench
--json`` prints). See docs/performance.md.
"""
