"""ids → attributions: which words pushed the decision (Integrated Gradients, captum).

Integrated Gradients (Sundararajan et al., 2017) integrates the gradient of the predicted
label's probability along a straight path from a baseline — here the all-``<pad>`` text,
whose embeddings are zero — to the text's embeddings, then sums over the embedding
dimension: one signed score per token. The scores add up to p(label | text) −
p(label | baseline) ("completeness"), so they read as shares of the probability the
model moved; ``delta`` reports how far the numerical integration is from that.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import torch
from rich.console import Console
from rich.style import Style
from rich.text import Text

from sentirnn.errors import DataError

METHOD = "integrated-gradients"


@dataclass
class Explanation:
    """Signed per-token scores for one text's predicted label.

    Attributes
    ----------
    text : the raw text.
    tokens : the model's tokens after cleaning and truncation (original strings, even where
        the vocabulary maps a token to ``<unk>``).
    scores : one float per token; positive pushes toward ``label``, negative away from it.
        Their sum approximates p(label | text) − p(label | all-``<pad>`` baseline).
    label : the predicted label. probabilities : label → probability.
    attention : the attention pooling weights per token (sum 1), or None for other poolings.
    method : how the scores were computed. delta : the completeness gap of the integration
        (sum(scores) − the probability change); more steps make it smaller.
    """

    text: str
    tokens: list[str]
    scores: list[float]
    label: str
    probabilities: dict[str, float]
    attention: list[float] | None = None
    method: str = METHOD
    delta: float | None = None

    def to_dict(self) -> dict:
        """A JSON-safe dict of every field."""
        return asdict(self)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The k tokens with the largest absolute scores, largest first."""
        order = sorted(range(len(self.scores)), key=lambda i: -abs(self.scores[i]))[:k]
        return [(self.tokens[i], self.scores[i]) for i in order]

    def render(self, color: bool = True) -> str:
        """A readable explanation: tokens coloured (terminal) or annotated with scores (plain).

        Green tokens push toward the predicted label, red ones away; brighter means
        stronger. Without colour every token is followed by its score, e.g. ``great(+0.412)``.
        """
        others = ", ".join(f"{k} {v:.3f}" for k, v in self.probabilities.items()
                           if k != self.label)
        lines = [f"{self.label} {self.probabilities[self.label]:.3f}"
                 + (f" ({others})" if others else "")
                 + f" — {self.method}; positive scores push toward {self.label!r}"]
        lines.append(_colored(self.tokens, self.scores) if color else
                     " ".join(f"{t}({s:+.3f})" for t, s in zip(self.tokens, self.scores)))
        lines.append("top: " + ", ".join(f"{t} {s:+.3f}" for t, s in self.top()))
        if self.attention is not None:
            order = sorted(range(len(self.attention)), key=lambda i: -self.attention[i])[:5]
            lines.append("attention: " + ", ".join(f"{self.tokens[i]} {self.attention[i]:.2f}"
                                                   for i in order))
        return "\n".join(lines)


def _colored(tokens: list[str], scores: list[float]) -> str:
    """Tokens as ANSI text, green/red by sign, from grey (weak) to bright (strong)."""
    peak = max((abs(s) for s in scores), default=0.0) or 1.0
    text = Text()
    for i, (token, score) in enumerate(zip(tokens, scores)):
        strength = abs(score) / peak
        end = (40, 200, 40) if score > 0 else (230, 40, 40)
        rgb = tuple(int(128 + (e - 128) * strength) for e in end)
        text.append(token, Style(color=f"rgb({rgb[0]},{rgb[1]},{rgb[2]})",
                                 bold=strength > 0.5))
        if i < len(tokens) - 1:
            text.append(" ")
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="256", soft_wrap=True).print(text)
    return buffer.getvalue().rstrip("\n")


def _bag_along_the_path(net, ids: torch.Tensor, lengths: torch.Tensor, embedded: torch.Tensor):
    """x (S, T, E) on the path from zero to ``embedded`` → (S, C) logits of the net's wide
    bag (models/wide.py) with each token present as far as the path has brought it, or None
    (no bag). On the path x = α · embedded, so token t's presence, x_t · e_t / |e_t|², is α:
    the bag's logits go from 0 at the baseline to their value at the text, and Integrated
    Gradients gives each token its share of them too, not only of the recurrent net's."""
    if net.wide is None:
        return lambda x: None
    terms = net.wide_terms(ids, lengths)  # (1, T, C)
    norm = (embedded * embedded).sum(2).clamp_min(1e-12)  # (1, T)

    def bag(x: torch.Tensor) -> torch.Tensor:
        presence = (x * embedded).sum(2) / norm  # (S, T)
        return (presence.unsqueeze(2) * terms).sum(1)  # (S, C)

    return bag


def explain_text(clf, text: str, steps: int = 32) -> Explanation:
    """Explain one text's prediction with Integrated Gradients on the token embeddings.

    Parameters
    ----------
    clf : a fitted ``SentimentClassifier``.
    text : one raw text (a str).
    steps : integration steps; more is slower and closer to exact (see ``delta``).

    Returns
    -------
    Explanation

    Examples
    --------
    >>> explain_text(clf, "the food was cold").top(1)  # doctest: +SKIP
    [('cold', 0.41)]
    """
    try:
        from captum.attr import IntegratedGradients  # optional: the 'explain' extra
    except ImportError:
        raise ImportError("explanations need captum: pip install 'sentirnn[explain]' "
                          "(or pip install captum)") from None
    if not isinstance(text, str):
        raise DataError(f"explain takes one text (a str), not {type(text).__name__}; "
                        "call it once per text")
    if not text.strip():  # the model's answer for no words is its prior, not an opinion
        raise DataError("the text is empty: there are no words to explain")
    if not isinstance(steps, int) or steps < 1:
        raise DataError(f"steps must be an integer ≥ 1, not {steps!r}")
    tokens, ids = clf.pipeline_.encode_one(text, clf.max_len, clf.truncation)
    net = clf.net_.eval()
    t = getattr(clf, "temperature_", 1.0)  # calibrated models: the same probabilities as predict
    device = next(net.parameters()).device
    ids_t = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)
    lengths = torch.tensor([len(ids)], dtype=torch.long, device=device)  # (1,)
    with torch.no_grad():
        embedded = net.embedding(ids_t)  # (1, T, E); dropout is off in eval mode
        bag = _bag_along_the_path(net, ids_t, lengths, embedded)
        wide = None if net.wide is None else net.wide_logits(ids_t, lengths)
        probs = torch.softmax(net.forward_embedded(embedded, lengths, wide) / t, 1)[0]  # (C,)
        attention = None
        if net.pooling.kind == "attention":
            states = net.states(embedded, lengths)  # (1, T, D·H), in reading order
            attention = net.pooling.attention_weights(states, lengths)[0].cpu().tolist()
            if net.config.reverse:  # back to the tokens' order
                attention = attention[::-1]
    target = int(probs.argmax())

    def label_probability(x, n):  # (S, T, E), (S,) → (S, C)
        return torch.softmax(net.forward_embedded(x, n, bag(x)) / t, 1)

    # cuDNN cannot run an RNN backward pass in eval mode; the native kernels can.
    with torch.backends.cudnn.flags(enabled=False):
        attributions, delta = IntegratedGradients(label_probability).attribute(
            embedded, baselines=torch.zeros_like(embedded), target=target,
            additional_forward_args=(lengths,), n_steps=steps, return_convergence_delta=True)
    return Explanation(
        text=text, tokens=tokens, scores=attributions.sum(2)[0].tolist(),  # (1, T, E) → (T,)
        label=clf.classes_[target],
        probabilities={c: float(p) for c, p in zip(clf.classes_, probs.tolist())},
        attention=attention, method=METHOD, delta=float(delta[0]))
