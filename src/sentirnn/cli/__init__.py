"""The ``sentirnn`` command line (Typer); ``main`` is the console-script entry point."""

from sentirnn.cli.app import app, main

__all__ = ["app", "main"]
