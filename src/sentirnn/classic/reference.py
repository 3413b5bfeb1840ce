"""ids → logits, by hand: the textbook simple RNN classifier written out in NumPy.

This is the equations of ``embedding → tanh RNN → last valid state → linear → softmax``
with backpropagation through time spelled out line by line, in float64. It exists for
two readers: a learner who wants to see every gradient, and the test suite, which
uses it as a correctness oracle for the PyTorch networks (same weights via
:meth:`NumpySimpleRNNClassifier.from_torch`, same logits and gradients expected).
It favours clarity over speed and is not used for real training. One file of ~400 lines on
purpose: forward, backward and the gradient check read side by side, in the order of the maths.

Notation (one sequence; the code does a batch of B at once)::

    x_t = E[id_t]                           embedding row, (D,)
    h_t = tanh(W x_t + U h_{t-1} + b)       for t < length, h_{-1} = 0, (H,)
    h_t = h_{t-1}                           for t ≥ length (padding is skipped)
    logits = W_out h_{T-1} + b_out          (C,)
    L = mean over the batch of -log softmax(logits)[label]
"""

from __future__ import annotations

import numpy as np

from sentirnn.errors import ConfigError, DataError

PARAM_NAMES = ("embedding", "W", "U", "b", "W_out", "b_out")


def _softmax(logits: np.ndarray) -> np.ndarray:
    """(B, C) → (B, C) rows summing to 1; subtracting the row max avoids overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class NumpySimpleRNNClassifier:
    """Embedding → single-layer tanh RNN → last valid state → linear, in NumPy.

    Parameters
    ----------
    vocab_size : int
        Number of token ids V; ids must lie in ``[0, V)``.
    embedding_dim : int
        Size D of each embedding row.
    hidden_size : int
        Size H of the recurrent state.
    num_classes : int
        Number of classes C.
    seed : int, default 0
        Seed of the parameter initialisation.

    Attributes
    ----------
    params : dict of str to ndarray
        float64 parameters, laid out as in PyTorch so weights copy over unchanged:
        ``embedding`` (V, D), ``W`` (H, D), ``U`` (H, H), ``b`` (H,),
        ``W_out`` (C, H), ``b_out`` (C,).

    Examples
    --------
    >>> import numpy as np
    >>> model = NumpySimpleRNNClassifier(vocab_size=10, embedding_dim=4, hidden_size=5,
    ...                                  num_classes=2)
    >>> ids = np.array([[3, 4, 0], [5, 6, 7]])
    >>> logits, cache = model.forward(ids, lengths=np.array([2, 3]))
    >>> logits.shape
    (2, 2)
    >>> grads = model.backward(cache, labels=np.array([0, 1]))
    >>> grads["U"].shape
    (5, 5)
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 num_classes: int, seed: int = 0):
        for name, value in [("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                            ("hidden_size", hidden_size), ("num_classes", num_classes)]:
            if int(value) != value or value < 1:
                raise ConfigError(f"The '{name}' parameter of NumpySimpleRNNClassifier must be "
                                  f"a positive integer. Got {value!r} instead.")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.hidden_size = int(hidden_size)
        self.num_classes = int(num_classes)
        self.seed = seed
        # The same distributions as PyTorch's defaults (N(0, 1) embeddings, U(±1/√H) for the
        # RNN and the output layer), so the two start from comparable scales.
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(self.hidden_size)
        V, D, H, C = self.vocab_size, self.embedding_dim, self.hidden_size, self.num_classes
        self.params = {
            "embedding": rng.standard_normal((V, D)),
            "W": rng.uniform(-k, k, (H, D)),
            "U": rng.uniform(-k, k, (H, H)),
            "b": rng.uniform(-k, k, H),
            "W_out": rng.uniform(-k, k, (C, H)),
            "b_out": rng.uniform(-k, k, C),
        }

    # ---- conversion -------------------------------------------------------------------------

    @classmethod
    def from_torch(cls, embedding, rnn, linear) -> NumpySimpleRNNClassifier:
        """Copy the weights of PyTorch modules into a new reference model.

        Parameters
        ----------
        embedding : torch.nn.Embedding
            Embedding of shape (V, D).
        rnn : torch.nn.RNN
            Single-layer, unidirectional, ``nonlinearity="tanh"``, ``batch_first=True``.
        linear : torch.nn.Linear
            Output layer from H to C features.

        Returns
        -------
        NumpySimpleRNNClassifier
            A model whose ``forward`` computes the same logits in float64.

        Examples
        --------
        >>> from torch import nn
        >>> emb, rnn, out = nn.Embedding(10, 4), nn.RNN(4, 5, batch_first=True), nn.Linear(5, 2)
        >>> model = NumpySimpleRNNClassifier.from_torch(emb, rnn, out)
        >>> model.params["W"].shape
        (5, 4)
        """
        problems = []
        if getattr(rnn, "mode", None) != "RNN_TANH":
            problems.append(f"mode={getattr(rnn, 'mode', type(rnn).__name__)!r} (need RNN_TANH)")
        if getattr(rnn, "num_layers", 1) != 1:
            problems.append(f"num_layers={rnn.num_layers} (need 1)")
        if getattr(rnn, "bidirectional", False):
            problems.append("bidirectional=True (need False)")
        if not getattr(rnn, "batch_first", False):
            problems.append("batch_first=False (need True)")
        if problems:
            raise ConfigError("from_torch copies a single-layer, unidirectional tanh "
                              "nn.RNN(batch_first=True); got " + ", ".join(problems) +
                              ". Build the reference from such an nn.RNN instead.")

        def numpy(tensor):
            return tensor.detach().cpu().double().numpy().copy()

        V, D = embedding.weight.shape
        H = rnn.hidden_size
        C = linear.out_features
        if rnn.input_size != D or linear.in_features != H:
            raise ConfigError(f"from_torch: sizes do not chain: embedding gives {D} features, "
                              f"the RNN takes {rnn.input_size} and returns {H}, the linear "
                              f"layer takes {linear.in_features}. Make them agree.")
        model = cls(V, D, H, C)
        model.params["embedding"] = numpy(embedding.weight)
        model.params["W"] = numpy(rnn.weight_ih_l0)
        model.params["U"] = numpy(rnn.weight_hh_l0)
        # torch adds two biases, b_ih and b_hh, in the same place: one b = b_ih + b_hh does the
        # same (and its gradient equals the gradient of each).
        model.params["b"] = (numpy(rnn.bias_ih_l0) + numpy(rnn.bias_hh_l0) if rnn.bias
                             else np.zeros(H))
        model.params["W_out"] = numpy(linear.weight)
        model.params["b_out"] = numpy(linear.bias) if linear.bias is not None else np.zeros(C)
        return model

    # ---- checks -----------------------------------------------------------------------------

    def _check_inputs(self, ids, lengths) -> tuple[np.ndarray, np.ndarray]:
        """Validate ids (B, T) and lengths (B,); return them as int64 arrays."""
        ids = np.asarray(ids)
        lengths = np.asarray(lengths)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise DataError(f"ids must be a 2-D integer array (batch, time); got shape "
                            f"{ids.shape} of dtype {ids.dtype}.")
        if lengths.shape != (ids.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise DataError(f"lengths must be a 1-D integer array with one entry per row of "
                            f"ids ({ids.shape[0]}); got shape {lengths.shape}.")
        if lengths.size and (lengths.min() < 1 or lengths.max() > ids.shape[1]):
            raise DataError(f"lengths must lie in [1, {ids.shape[1]}] (the padded width); got "
                            f"values from {lengths.min()} to {lengths.max()}. Give empty texts "
                            f"one <unk> token.")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise DataError(f"ids must lie in [0, {self.vocab_size}) (vocab_size); got values "
                            f"from {ids.min()} to {ids.max()}.")
        return ids.astype(np.int64), lengths.astype(np.int64)

    def _check_labels(self, labels, batch_size: int) -> np.ndarray:
        """Validate labels (B,) as class indices in [0, C)."""
        labels = np.asarray(labels)
        if labels.shape != (batch_size,) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"labels must be a 1-D integer array of {batch_size} class "
                            f"indices; got shape {labels.shape} of dtype {labels.dtype}.")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise DataError(f"labels must lie in [0, {self.num_classes}) (num_classes); got "
                            f"values from {labels.min()} to {labels.max()}.")
        return labels.astype(np.int64)

    # ---- forward, loss, backward ------------------------------------------------------------

    def forward(self, ids, lengths) -> tuple[np.ndarray, dict]:
        """Run the network on a padded batch.

        Parameters
        ----------
        ids : array of int, shape (batch, time)
            Token ids, padded on the right; what follows each length is never read.
        lengths : array of int, shape (batch,)
            Number of valid steps per row, each in ``[1, time]``.

        Returns
        -------
        logits : ndarray of shape (batch, num_classes)
        cache : dict
            Everything :meth:`backward` needs (inputs, states, activations).
        """
        ids, lengths = self._check_inputs(ids, lengths)
        p = self.params
        B, T = ids.shape
        x = p["embedding"][ids]  # (B, T) ids → (B, T, D)
        mask = np.arange(T)[None, :] < lengths[:, None]  # (B, T) True on valid steps
        h = np.zeros((B, T + 1, self.hidden_size))  # (B, T+1, H); h[:, 0] is h_{-1} = 0
        a = np.zeros((B, T, self.hidden_size))  # (B, T, H) tanh outputs, kept for backward
        for t in range(T):
            z = x[:, t] @ p["W"].T + h[:, t] @ p["U"].T + p["b"]  # (B, H)
            a[:, t] = np.tanh(z)
            # Rows already past their length carry their state forward unchanged, so the
            # final column is each row's last valid state and padding never enters.
            h[:, t + 1] = np.where(mask[:, t, None], a[:, t], h[:, t])
        h_last = h[:, T]  # (B, H)
        logits = h_last @ p["W_out"].T + p["b_out"]  # (B, C)
        cache = {"ids": ids, "lengths": lengths, "mask": mask, "x": x, "h": h, "a": a,
                 "logits": logits}
        return logits, cache

    def loss(self, ids, lengths, labels) -> float:
        """Mean softmax cross-entropy over the batch.

        Parameters
        ----------
        ids, lengths : as in :meth:`forward`.
        labels : array of int, shape (batch,)
            Class indices in ``[0, num_classes)``.

        Returns
        -------
        float
        """
        logits, _ = self.forward(ids, lengths)
        labels = self._check_labels(labels, logits.shape[0])
        return self._cross_entropy(logits, labels)

    @staticmethod
    def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean of -log softmax(logits)[label]; log-sum-exp with the max shifted out."""
        shifted = logits - logits.max(axis=1, keepdims=True)  # (B, C)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (B, C)
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self, cache: dict, labels) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` by backpropagation through time.

        Parameters
        ----------
        cache : dict
            The second value returned by :meth:`forward`.
        labels : array of int, shape (batch,)

        Returns
        -------
        dict of str to ndarray
            One gradient per entry of ``params``, same names and shapes.
        """
        p = self.params
        ids, mask, x, h, a = cache["ids"], cache["mask"], cache["x"], cache["h"], cache["a"]
        B, T = ids.shape
        labels = self._check_labels(labels, B)
        grads = {name: np.zeros_like(value) for name, value in p.items()}

        # Output layer. For L = mean_b -log softmax(logits_b)[y_b], the derivative w.r.t. the
        # logits is (softmax - one_hot(y)) / B: the 1/B comes from the mean.
        dlogits = _softmax(cache["logits"])  # (B, C)
        dlogits[np.arange(B), labels] -= 1.0
        dlogits /= B
        h_last = h[:, T]  # (B, H)
        grads["W_out"] = dlogits.T @ h_last  # (C, H)
        grads["b_out"] = dlogits.sum(axis=0)  # (C,)
        dh = dlogits @ p["W_out"]  # (B, H)  dL/dh_T

        # Through time, last step first. On a valid step h_t = tanh(z_t), so
        # dz = dh * (1 - h_t²); z_t = W x_t + U h_{t-1} + b then hands dz to W, U, b, the
        # embedding row of id_t and (via Uᵀ) to h_{t-1}. On a padded step h_t = h_{t-1}: dz is
        # 0 and dh passes through untouched to the previous step.
        for t in range(T - 1, -1, -1):
            valid = mask[:, t, None]  # (B, 1)
            dz = np.where(valid, dh * (1.0 - a[:, t] ** 2), 0.0)  # (B, H)
            grads["W"] += dz.T @ x[:, t]  # (H, D)
            grads["U"] += dz.T @ h[:, t]  # (H, H); h[:, t] is h_{t-1}
            grads["b"] += dz.sum(axis=0)  # (H,)
            # np.add.at, not +=: the same id can occur in several rows, and fancy-index += would
            # keep only one of their contributions. Padded rows add zeros.
            np.add.at(grads["embedding"], ids[:, t], dz @ p["W"])  # (B, D) into (V, D)
            dh = dz @ p["U"] + np.where(valid, 0.0, dh)  # (B, H)  dL/dh_{t-1}
        return grads

    # ---- training ---------------------------------------------------------------------------

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """Plain SGD, in place: ``params[name] -= lr * grads[name]`` for every parameter."""
        missing = set(PARAM_NAMES) - set(grads)
        if missing:
            raise DataError(f"step needs a gradient for every parameter; missing "
                            f"{sorted(missing)}. Pass the dict returned by backward.")
        for name in PARAM_NAMES:
            self.params[name] -= lr * grads[name]

    def fit(self, ids, lengths, labels, epochs: int = 10, lr: float = 0.1,
            batch_size: int = 32, seed: int = 0) -> list[float]:
        """Train with minibatch SGD, continuing from the current parameters.

        Parameters
        ----------
        ids, lengths : as in :meth:`forward`, for the whole training set.
        labels : array of int, shape (n,)
        epochs : int, default 10
        lr : float, default 0.1
            SGD learning rate.
        batch_size : int, default 32
        seed : int, default 0
            Seed of the per-epoch shuffling.

        Returns
        -------
        list of float
            Per epoch, the mean training loss over its minibatches (each measured before
            its update, weighted by its size).
        """
        ids, lengths = self._check_inputs(ids, lengths)
        labels = self._check_labels(labels, ids.shape[0])
        if epochs < 0 or batch_size < 1 or lr <= 0:
            raise ConfigError(f"fit needs epochs ≥ 0, batch_size ≥ 1 and lr > 0; got "
                              f"epochs={epochs}, batch_size={batch_size}, lr={lr}.")
        rng = np.random.default_rng(seed)
        n = ids.shape[0]
        history = []
        for _ in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size]
                logits, cache = self.forward(ids[rows], lengths[rows])
                total += self._cross_entropy(logits, labels[rows]) * len(rows)
                self.step(self.backward(cache, labels[rows]), lr)
            history.append(total / n)
        return history

    # ---- prediction -------------------------------------------------------------------------

    def predict_proba(self, ids, lengths) -> np.ndarray:
        """Class probabilities, an array of shape (batch, num_classes) whose rows sum to 1."""
        logits, _ = self.forward(ids, lengths)
        return _softmax(logits)

    def predict(self, ids, lengths) -> np.ndarray:
        """Most probable class index per row, an int64 array of shape (batch,)."""
        logits, _ = self.forward(ids, lengths)
        return logits.argmax(axis=1)


def numerical_gradient(model: NumpySimpleRNNClassifier, ids, lengths, labels, name: str,
                       eps: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of d loss / d ``model.params[name]``.

    Each entry is ``(L(θ + eps) - L(θ - eps)) / (2 eps)``, whose error is O(eps²), far
    below the one-sided difference's O(eps). The parameter is restored afterwards.

    Parameters
    ----------
    model : NumpySimpleRNNClassifier
    ids, lengths, labels : as in :meth:`NumpySimpleRNNClassifier.loss`.
    name : str
        One of ``"embedding", "W", "U", "b", "W_out", "b_out"``.
    eps : float, default 1e-6

    Returns
    -------
    ndarray
        Same shape as ``model.params[name]``.
    """
    if name not in model.params:
        raise DataError(f"Unknown parameter {name!r}; choose one of {list(model.params)}.")
    theta = model.params[name]
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        original = theta[index]
        theta[index] = original + eps
        plus = model.loss(ids, lengths, labels)
        theta[index] = original - eps
        minus = model.loss(ids, lengths, labels)
        theta[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a - b‖ / max(‖a‖ + ‖b‖, 1e-12)`` over whole arrays; 0 means identical."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))
