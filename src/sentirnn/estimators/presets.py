"""Named hyper-parameter sets for ``SentimentClassifier``: ``--preset tutorial``.

A preset is a plain dict of constructor parameters, applied over the defaults and under
anything given explicitly (``SentimentClassifier.preset(name, **params)``; on the command
line defaults ← preset ← ``--config`` file ← flags). The model directory records the resolved
parameters, as always, plus ``"preset": name`` in config.json.

The ``tutorial`` preset is the source tutorial's Keras model::

    model = Sequential([Embedding(vocab, 50, input_length=100),   # texts cut/padded to 100
                        SimpleRNN(50),                             # one layer, last state
                        Dense(n_classes, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    model.fit(x, y, epochs=10, batch_size=32)

Where it still differs (see docs/tutorial-preset.md):

- Padding. Ours pads each batch to its longest text, after the tokens; the recurrence never
  reads a pad before a token and "last" pooling takes the state at each text's own last
  token (``models/rnn.py``, ``models/pooling.py``), so padding every text to 100 would give
  the same logits. That equals Keras with ``Embedding(mask_zero=True)``; without a mask
  Keras' SimpleRNN also reads the (pre-)padding vectors before the text, which ours never does.
- Truncation keeps the first 100 tokens ("head"). Keras' ``pad_sequences`` cuts at the
  front by default (``truncating="pre"``, i.e. keeps the last 100: ``truncation="tail"``).
- RMSprop is torch's: decay ``alpha=0.99`` and ``eps=1e-8`` where Keras has ``rho=0.9`` and
  ``1e-7``; same learning rate (1e-3).
- Batches are drawn by length buckets (shuffled, near-sorted), not uniformly at random;
  ``nn.RNN`` has two bias vectors and torch's initialisation, not Glorot/orthogonal.
- Words unknown at prediction map to ``<unk>``; Keras' ``Tokenizer`` drops them.
"""

from __future__ import annotations

from sentirnn.errors import ConfigError

PRESETS: dict[str, dict] = {
    "tutorial": {
        "arch": "rnn",                 # SimpleRNN: tanh recurrence, one direction
        "layers": 1,                   # one recurrent layer
        "hidden_size": 50,             # SimpleRNN(50)
        "pooling": "last",             # the layer's final state feeds the Dense softmax
        "embedding_dim": 50,           # Embedding(vocab, 50)
        "max_len": 100,                # input_length=100 / pad_sequences(maxlen=100)
        "truncation": "head",          # cut long texts to their first 100 tokens
        "optimizer": "rmsprop",        # compile(optimizer="rmsprop")
        "lr": 1e-3,                    # Keras RMSprop's default learning rate
        "max_epochs": 10,              # fit(epochs=10)
        "batch_size": 32,              # fit(batch_size=32)
        "min_steps": 0,                # keep batches of 32 on small data (Keras does)
        "patience": 0,                 # Keras trains all 10 epochs: no early stopping
        "restore_best": False,         # ...and ends on the last epoch's weights
        "average_epochs": "off",       # no averaging of epoch weights
        "dropout": 0.0,                # no Dropout layer in the model
        "embedding_dropout": 0.0,      # no dropout on embeddings either
        "bigrams": "off",              # no token-pair embedding
        "grad_clip": 0.0,              # Keras optimizers do not clip by default
        "weight_decay": 0.0,           # no regularisers
        "l1": 0.0,
        "min_freq": 1,                 # Keras' Tokenizer keeps words seen once
        "scheduler": "none",           # constant learning rate
        "class_weights": "none",       # plain categorical cross-entropy
        "precision": "32",             # Keras trains in float32 (ours: bf16 on some CPUs)
    },
}


def preset_params(name: str) -> dict:
    """The parameters of preset ``name`` (a copy), or a ConfigError naming the valid ones."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; valid presets: "
                          + ", ".join(repr(p) for p in PRESETS))
    return dict(PRESETS[name])
