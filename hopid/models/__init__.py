"""Models: the factory behind every ``--model`` option, and the encoders it returns."""
