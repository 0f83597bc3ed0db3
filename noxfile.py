"""nox sessions: tests, lint, demo (all installed with the pinned constraints)."""

import nox

nox.options.sessions = ["lint", "tests"]
INSTALL = ("-e", ".[dev]", "-c", "constraints.txt")


@nox.session
def tests(session: nox.Session) -> None:
    session.install(*INSTALL)
    session.run("pytest", *session.posargs)


@nox.session
def fast(session: nox.Session) -> None:
    """The unit tier only (a couple of minutes)."""
    session.install(*INSTALL)
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff", "-c", "constraints.txt")
    session.run("ruff", "check", "hopid", "hopid_cli", "tests", "noxfile.py")


@nox.session
def demo(session: nox.Session) -> None:
    session.install(*INSTALL)
    session.run("hopid", "demo", *session.posargs)
