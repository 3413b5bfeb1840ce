"""The ``sentirnn`` command line (Typer app in ``sentirnn.cli.app``).

``main`` is the console-script entry point (``sentirnn = "sentirnn.cli:main"``).
"""

from sentirnn.cli.app import main

__all__ = ["main"]
