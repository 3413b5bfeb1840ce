"""sentirnn: sentiment classification with recurrent neural networks, on an ordinary CPU.

Train, measure and apply a classifier in a few lines::

    from sentirnn import SentimentClassifier, read_dataset

    data = read_dataset("reviews.csv")          # CSV/TSV/JSONL/Parquet (.gz), folders, fastText
    clf = SentimentClassifier(arch="bilstm").fit(data.texts, data.labels)
    clf.predict_proba(["送餐太慢了"])            # one row per text, columns = clf.classes_
    clf.save("models/reviews")                   # safetensors + JSON; load() reads it back

Public names: SentimentClassifier, LanguageModel (pretrain, then fine-tune),
BaselineClassifier (TF-IDF/bag-of-words + scikit-learn), EnsembleClassifier, Translator
(English ↔ Chinese, a recurrent encoder–decoder), load, read_dataset, read_texts. The
command line is ``sentirnn --help``.
"""

from importlib import import_module as _import_module

__version__ = "0.1.0"

# name → module; imported on first use, so `import sentirnn` (and the CLI's --help) stays
# fast: torch loads only when a model is needed
_LAZY = {"SentimentClassifier": "estimators.classifier", "load": "estimators.classifier",
         "LanguageModel": "estimators.language_model", "BaselineClassifier": "classic.baselines",
         "EnsembleClassifier": "estimators.ensemble", "read_dataset": "data.dataset",
         "read_texts": "data.dataset", "Translator": "estimators.translator"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_import_module(f"sentirnn.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sentirnn' has no attribute {name!r}")


def __dir__():
    # module-level __getattr__ hides the lazy names from dir(), help() and tab completion
    return sorted({*globals(), *_LAZY})


__all__ = [*_LAZY, "__version__"]
