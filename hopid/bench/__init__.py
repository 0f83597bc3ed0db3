"""``hopid bench``: each stage measured side by side with the raw library doing the same work.

:func:`run_bench` returns one flat dict of figures (the keys ``hopid bench --json`` prints)
plus, under ``details``, what produced them. See docs/performance.md.
"""
