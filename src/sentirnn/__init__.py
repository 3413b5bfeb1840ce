"""sentirnn: sentiment classification with recurrent neural networks, on an ordinary CPU."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy imports keep `import sentirnn` (and the CLI's --help) fast: torch loads on use.
    if name in ("SentimentClassifier", "load"):
        from sentirnn import estimator

        return getattr(estimator, name)
    if name == "LanguageModel":
        from sentirnn.language_model import LanguageModel

        return LanguageModel
    if name in ("read_dataset", "read_texts"):
        from sentirnn import data

        return getattr(data, name)
    raise AttributeError(f"module 'sentirnn' has no attribute {name!r}")


__all__ = ["SentimentClassifier", "LanguageModel", "load", "read_dataset", "read_texts",
           "__version__"]
