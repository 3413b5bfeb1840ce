"""The web page in a real headless Chromium against a real uvicorn server on 127.0.0.1.

Needs Playwright for Python (the 'dev' extra) and Debian's chromium (``scripts/setup.sh
--test`` installs it); Playwright's own browser download is never used. Without them the
tests skip locally, and fail in CI (``CI`` set), where a skip would hide a broken page.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MAX_CHARS = 300
# A real Chromium against a real uvicorn server.
pytestmark = pytest.mark.slow


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for module in ("playwright", "fastapi", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (bash scripts/setup.sh --test)"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (bash scripts/setup.sh --test installs it as root)"
    return None


if _missing():
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {_missing()}", pytrace=False)
    pytest.skip(_missing(), allow_module_level=True)

import uvicorn  # noqa: E402
from conftest import make_corpus  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from sentirnn.serve.app import create_app  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app):
    """Run ``app`` with uvicorn in a background thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tiny model served by uvicorn in a background thread → its base URL."""
    from sentirnn.estimators.classifier import SentimentClassifier

    clf = SentimentClassifier(embedding_dim=16, hidden_size=16, max_epochs=4, batch_size=16,
                              lr=1e-2, min_freq=1, progress=False, num_threads=1)
    model_dir = clf.fit(*make_corpus("en", 200)).save(tmp_path_factory.mktemp("web") / "tiny")
    yield from _serve(create_app(model_dir, max_chars=MAX_CHARS))


@pytest.fixture(scope="module")
def mt_server(tmp_path_factory):
    """A tiny English → Chinese translator served the same way → its base URL."""
    from test_serve_mt import tiny_translator

    model_dir = tiny_translator(tmp_path_factory.mktemp("web-mt") / "en-zh")
    yield from _serve(create_app(model_dir, max_chars=MAX_CHARS, num_threads=1))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url):
    page = browser.new_page()
    page.set_default_timeout(20_000)
    page.goto(url + "/")
    return page


@pytest.fixture
def page(browser, server):
    page = _open(browser, server)
    yield page
    page.close()


@pytest.fixture
def mt_page(browser, mt_server):
    page = _open(browser, mt_server)
    yield page
    page.close()


def test_page_shows_the_model(page):
    expect(page.locator("#model-info")).to_contain_text("negative, positive")


def test_classify_shows_label_and_bars(page):
    page.fill("#text", "the food was great and the service excellent")
    page.click("#classify")
    expect(page.locator("#label")).to_have_text("positive")
    bars = page.locator("#bars .bar")
    expect(bars).to_have_count(2)
    widths = [bars.nth(i).locator(".bar-fill").evaluate("e => e.getBoundingClientRect().width")
              for i in range(2)]
    assert sum(widths) > 0
    assert page.locator("#error").is_hidden()


def test_tokens_are_highlighted(page):
    page.fill("#text", "awful food and terrible service")
    page.click("#classify")
    expect(page.locator("#label")).to_have_text("negative")
    tokens = page.locator("#tokens .token")
    expect(tokens.first).to_be_visible()
    colours = tokens.evaluate_all(
        "spans => spans.map(s => getComputedStyle(s).backgroundColor)")
    assert len(colours) >= 4
    # At least the strongest token is coloured (alpha > 0), in green or red.
    coloured = [c for c in colours if c not in ("transparent", "rgba(0, 0, 0, 0)")
                and not c.endswith(", 0)")]
    assert coloured, colours
    assert all(c.startswith(("rgba(22, 163, 74", "rgba(220, 38, 38", "rgb(22, 163, 74",
                             "rgb(220, 38, 38")) for c in coloured), colours


def test_batch_table(page):
    page.fill("#batch", "great food\n\nawful service\nlove this movie")
    page.click("#batch-run")
    table = page.locator("#batch-results")
    expect(table).to_be_visible()
    rows = table.locator("tr")
    expect(rows).to_have_count(4)  # header + three non-blank lines
    assert rows.nth(0).locator("th").all_inner_texts() == ["#", "text", "label", "negative",
                                                           "positive"]
    assert rows.nth(1).locator("td.label").inner_text() == "positive"
    assert rows.nth(2).locator("td.label").inner_text() == "negative"


def test_api_error_is_shown(page):
    page.fill("#text", "a" * (MAX_CHARS + 1))
    page.click("#classify")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"limit is {MAX_CHARS}")
    assert page.locator("#result").is_hidden()


# ---- the translation page ------------------------------------------------------------------------
def test_translation_page_shows_the_model(mt_page):
    expect(mt_page.locator("#model-info")).to_contain_text("translates en → zh")
    assert mt_page.locator("#classify").count() == 0


def test_translate_shows_the_translation_and_a_heat_map(mt_page):
    mt_page.fill("#source", "i see two cats .")
    mt_page.click("#translate")
    expect(mt_page.locator("#translation")).to_have_text("我看见二只猫。")
    heatmap = mt_page.locator("#heatmap")
    expect(heatmap).to_be_visible()
    sources = heatmap.locator(".heat-source").all_inner_texts()
    outputs = heatmap.locator(".heat-output").all_inner_texts()
    assert sources == ["i", "see", "two", "cats", "."]
    assert outputs == ["我", "看", "见", "二", "只", "猫", "。", "</s>"]
    cells = heatmap.locator(".heat-cell")
    expect(cells).to_have_count(len(sources) * len(outputs))
    boxes = cells.evaluate_all("cs => cs.map(c => c.getBoundingClientRect())"
                               ".map(r => [r.width, r.height])")
    assert all(w > 0 and h > 0 for w, h in boxes)
    weights = [float(w) for w in cells.evaluate_all("cs => cs.map(c => c.dataset.weight)")]
    alphas = cells.evaluate_all("cs => cs.map(c => getComputedStyle(c).backgroundColor)")
    for row in range(len(outputs)):  # each output row is a distribution over the source
        assert abs(sum(weights[row * len(sources):(row + 1) * len(sources)]) - 1) < 1e-2
    strongest = max(range(len(weights)), key=weights.__getitem__)
    assert alphas[strongest].startswith("rgba(37, 99, 235") or \
        alphas[strongest] == "rgb(37, 99, 235)", alphas[strongest]
    assert mt_page.locator("#error").is_hidden()


def test_translation_beam_and_errors(mt_page):
    mt_page.fill("#source", "i see five birds .")
    mt_page.fill("#beam", "1")
    mt_page.click("#translate")
    expect(mt_page.locator("#translation")).to_have_text("我看见五只鸟。")
    mt_page.fill("#source", "a" * (MAX_CHARS + 1))
    mt_page.click("#translate")
    error = mt_page.locator("#error")
    expect(error).to_contain_text(f"limit is {MAX_CHARS}")
    assert mt_page.locator("#result").is_hidden()
    mt_page.fill("#source", "   ")
    mt_page.click("#translate")
    expect(error).to_have_text("write a sentence first")
