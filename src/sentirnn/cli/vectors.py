"""``sentirnn embeddings ...``: word vectors for ``--embeddings``."""

from __future__ import annotations

from pathlib import Path

import typer

from sentirnn.cli.common import (
    app,
    say,
)

# ---- word vectors ------------------------------------------------------------------------------
embeddings_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                             help="Word vectors for --embeddings.")
app.add_typer(embeddings_app, name="embeddings")


@embeddings_app.command("train", epilog="Example: sentirnn embeddings train unsup.txt.gz "
                        "--out vectors/imdb.w2v.txt --dim 200 --epochs 5")
def embeddings_train(
    texts: Path = typer.Argument(..., help="Texts: .txt (.gz) one document a line, a data "
                                 "file's text column, or a folder of .txt."),
    out: Path = typer.Option(..., "--out", "-o", help="Vector file to write (word2vec format)."),
    dim: int = typer.Option(100, help="Vector size (use it as --embedding-dim)."),
    window: int = typer.Option(5, help="Context window."),
    min_count: int = typer.Option(2, help="Ignore words seen fewer times."),
    epochs: int = typer.Option(5, help="Passes over the texts."),
    language: str = typer.Option("auto", help="auto|zh|en"),
    tokenizer: str = typer.Option("auto", help="auto|jieba-word|char|en-word (as for train)."),
    binary: bool = typer.Option(False, "--binary", help="word2vec binary instead of text."),
    text_col: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    seed: int = typer.Option(0), workers: int = typer.Option(1, help="Training threads."),
):
    """Train Word2Vec on texts, tokenized exactly as `sentirnn train` tokenizes them."""
    # start-up: pandas and gensim load only when a command runs, not for --help
    from sentirnn.data.dataset import read_texts
    from sentirnn.preprocess.embeddings import save_vectors, train_word2vec

    corpus, report = read_texts(texts, text_col=text_col, encoding=encoding)
    say(str(report))
    kv = train_word2vec(corpus, language=language, tokenizer=tokenizer, dim=dim, window=window,
                        min_count=min_count, epochs=epochs, seed=seed, workers=workers)
    save_vectors(kv, out, binary=binary)
    say(f"{len(kv)} {kv.vector_size}-dim word vectors written to {out}")
