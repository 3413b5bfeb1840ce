"""What every estimator shares: the not-fitted check.

One message for every class (its name comes from ``type(estimator)``), in scikit-learn's
words, so that an unfitted SentimentClassifier, LanguageModel or MultiLabelClassifier fails
the same way and says what to do.
"""

from __future__ import annotations

from sentirnn.errors import NotFittedError


def check_fitted(estimator, attribute: str = "net_", method: str = "predict",
                 loader: str = "sentirnn.load") -> None:
    """Raise NotFittedError unless ``estimator`` has ``attribute`` (its learned state).

    Parameters
    ----------
    estimator : the object whose method was called.
    attribute : a fitted attribute that only ``fit`` or loading sets.
    method : the name of the call being refused, for the message.
    loader : what else gives a fitted estimator, for the message.

    Examples
    --------
    >>> class Model:
    ...     pass
    >>> check_fitted(Model(), "net_", "predict")
    Traceback (most recent call last):
    ...
    sentirnn.errors.NotFittedError: This Model instance is not fitted yet. Call 'fit' (or sentirnn.load) before 'predict'.
    """  # noqa: E501
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. "
                             f"Call 'fit' (or {loader}) before {method!r}.")
