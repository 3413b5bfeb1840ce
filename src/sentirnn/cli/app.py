"""The command line: one thin command per API call, and the only place that prints errors.

Every error a user can cause is one line on stderr with exit code 1 (2 for usage
errors, from Typer); ``--debug`` shows the traceback instead. The commands live in this
package's modules, one per group of commands, each a thin call into the API.
"""

from __future__ import annotations

import sys

# Importing a group registers its commands; --help lists them in this order.
# isort: off
from sentirnn.cli import train  # noqa: F401  train, demo, ensemble, tune
from sentirnn.cli import apply  # noqa: F401  evaluate, predict, embed, explain
from sentirnn.cli import deploy  # noqa: F401  serve, export
from sentirnn.cli import lm  # noqa: F401  pretrain, finetune, generate
from sentirnn.cli import vectors  # noqa: F401  embeddings train
from sentirnn.cli import mt  # noqa: F401  mt train, evaluate, translate, demo
# isort: on
from sentirnn.cli.common import app, say, state
from sentirnn.errors import SentirnnError

__all__ = ["app", "main"]


def _interrupted() -> None:
    say("interrupted" + (f": {state['on_interrupt']}" if "on_interrupt" in state else ""))
    sys.exit(130)


def main() -> None:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    try:
        app()
    except SentirnnError as e:
        if state["debug"]:
            raise
        say(f"error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as e:
        if e.code == 130:  # Typer's silent answer to Ctrl-C
            _interrupted()
        raise
    except Exception as e:  # noqa: BLE001 — the CLI must never end in a bare traceback
        if state["debug"]:
            raise
        say(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        sys.exit(1)
