"""``hopid serve``: the HTTP search API and the web gallery over one index."""
