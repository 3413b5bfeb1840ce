"""MkDocs hook (mkdocs.yml `hooks:`): the CLI reference, generated from the Typer app.

docs/cli.md holds MARKER; this replaces it with the Markdown that Typer's own generator
(`typer sentirnn.cli.app utils docs --name sentirnn`) writes for the app: every
command's help, arguments, options with their defaults, and the example that ends its
`--help`. So the reference is never written by hand, and a command that cannot be loaded
fails the build.
"""

from __future__ import annotations

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    import typer
    from typer.cli import get_docs_for_click

    from sentirnn.cli.app import app

    command = typer.main.get_command(app)
    docs = get_docs_for_click(obj=command, ctx=typer.Context(command), name="sentirnn",
                              indent=2)
    return markdown.replace(MARKER, docs)
