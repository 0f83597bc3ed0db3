"""Pictures: contact sheets of search hits, retrieval examples, t-SNE maps and attention maps.

Every function draws with matplotlib's object API on the Agg canvas (no display, no pyplot
state) and writes a PNG (or an HTML page) where it is told; nothing here prints.
"""
