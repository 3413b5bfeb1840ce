"""Shared fixtures: seeded tiny labelled corpora in Chinese and English.

The tiny tasks are learnable by construction (the label is decided by which
sentiment words a text holds), so quality floors on them can fail for real.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys

import pytest

ZH_POS = ["好吃", "很棒", "喜欢", "满意", "新鲜", "快"]
ZH_NEG = ["难吃", "糟糕", "讨厌", "失望", "太慢", "冷了"]
ZH_FILL = ["外卖", "这家", "味道", "送餐", "今天", "米饭", "老板", "包装", "我们", "的"]
EN_POS = ["great", "good", "love", "excellent", "wonderful", "tasty"]
EN_NEG = ["bad", "awful", "hate", "terrible", "boring", "cold"]
EN_FILL = ["the", "movie", "food", "was", "really", "this", "plot", "and", "a", "service"]


def make_corpus(language: str = "en", n: int = 200, seed: int = 0,
                labels=("negative", "positive")) -> tuple[list[str], list[str]]:
    """n texts whose label is given by the polarity words they contain."""
    rng = random.Random(seed)
    pos, neg, fill = (ZH_POS, ZH_NEG, ZH_FILL) if language == "zh" else (EN_POS, EN_NEG, EN_FILL)
    sep = "" if language == "zh" else " "
    texts, ys = [], []
    for i in range(n):
        label = labels[i % len(labels)]
        words = [rng.choice(fill) for _ in range(rng.randint(2, 8))]
        cue = pos if label == labels[-1] else neg
        if len(labels) > 2 and label == labels[1]:
            cue = fill
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randint(0, len(words)), rng.choice(cue))
        texts.append(sep.join(words))
        ys.append(label)
    return texts, ys


@pytest.fixture
def en_corpus():
    return make_corpus("en", 240, seed=1)


@pytest.fixture
def zh_corpus():
    return make_corpus("zh", 240, seed=2)


@pytest.fixture(autouse=True)
def sigint_handler_unchanged():
    """Every test leaves SIGINT's handler as it found it. Lightning ignores SIGINT when it
    sees Ctrl-C; a handler left that way made later child processes deaf to Ctrl-C."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        if before is not None:  # so that one leak fails one test, not every later one
            signal.signal(signal.SIGINT, before)
        pytest.fail(f"the test left SIGINT's handler at {after!r} (it was {before!r})")


FAST = dict(embedding_dim=16, hidden_size=16, max_epochs=6, batch_size=16, lr=1e-2,
            min_freq=1, progress=False, num_threads=1)


@pytest.fixture
def fast_params():
    """Hyper-parameters that train a tiny model in about a second."""
    return dict(FAST)


def run_cli(capsys, monkeypatch, *args, stdin=None):
    """Call the console entry point in-process → (exit code, stdout, stderr)."""
    import io
    import sys

    from sentirnn.cli import app as cli

    monkeypatch.setattr(sys, "argv", ["sentirnn", *map(str, args)])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_main(*args, umask: int | None = None) -> tuple[int, str, str]:
    """``python -m sentirnn ARGS`` in this process → (exit code, stdout, stderr).

    For module-scoped fixtures, which cannot take capsys; a subprocess would spend seconds
    importing torch again (the slow-marked tests run the real subprocess). ``umask`` is set
    for the call and restored after it.
    """
    import contextlib
    import io
    import os
    import runpy
    import sys

    out, err, code = io.StringIO(), io.StringIO(), 0
    old_umask = os.umask(umask) if umask is not None else None
    try:
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            mp.setattr(sys, "argv", ["sentirnn", *map(str, args)])
            mp.delitem(sys.modules, "sentirnn.__main__", raising=False)
            try:
                runpy.run_module("sentirnn", run_name="__main__")
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        if old_umask is not None:
            os.umask(old_umask)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, message: str) -> None:
    """A user error: exit code 1, exactly one 'error:' line naming the problem, no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, err
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def assert_runs_without_torch(code: str, timeout: int = 120) -> None:
    """Run ``code`` in a fresh interpreter and fail if it errs or imports torch: the
    exported runtimes promise a torch-free path, and only a new process can show it."""
    code += "\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr
