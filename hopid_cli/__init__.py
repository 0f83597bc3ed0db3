"""The ``hopid`` command line: thin Typer commands over the ``hopid`` library."""
