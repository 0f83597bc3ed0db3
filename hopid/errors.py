"""The one exception type the CLI turns into a clean one-line error."""


class HopidError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do."""
