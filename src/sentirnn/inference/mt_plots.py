"""Pictures of a translator: learning curves and attention heat-maps with real CJK glyphs.

matplotlib's bundled DejaVu fonts have no Chinese characters (they come out as boxes), so the
heat-map looks for an installed font that has them (set-up installs WenQuanYi Micro Hei where
it can) and says once, in the log, what to install when there is none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import numpy as np
from matplotlib import font_manager

from sentirnn.metrics import load_pyplot, plot_curves

log = logging.getLogger("sentirnn")
# tried in this order; any font whose name is here renders simplified Chinese
CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC",
                "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN")


@functools.cache
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None."""
    for attempt in range(2):
        installed = {f.name for f in font_manager.fontManager.ttflist}
        for family in CJK_FAMILIES:
            if family in installed:
                return family
        if attempt == 0:  # matplotlib's font cache predates a font installed since: look again
            for file in font_manager.findSystemFonts():
                try:
                    if font_manager.get_font(file).family_name in CJK_FAMILIES:
                        font_manager.fontManager.addfont(file)
                except (OSError, RuntimeError):  # an unreadable font file is not ours to fix
                    continue
    log.warning("no font with Chinese characters is installed, so attention.png shows boxes "
                "for them; install one (Debian/Ubuntu: apt-get install fonts-wqy-microhei)")
    return None


def plot_translation_curves(history: list[dict], path) -> None:
    """Training and validation loss, and validation BLEU/chrF, per epoch."""
    plot_curves(history, path, scores=(("val_bleu", "BLEU"), ("val_chrf", "chrF")))


def plot_attention(examples: Sequence[tuple[list[str], list[str], np.ndarray]], path) -> None:
    """One heat-map per (source tokens, output tokens, weights (outputs × sources))."""
    plt = load_pyplot()
    family = cjk_font()
    examples = [e for e in examples if np.size(e[2])]  # an empty sentence has nothing to draw
    fig, axes = plt.subplots(1, max(len(examples), 1),
                             figsize=(4.2 * max(len(examples), 1), 4.2), squeeze=False)
    with plt.rc_context({"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"]}):
        for ax, (source, output, weights) in zip(axes[0], examples):
            ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(source)), source, rotation=60, ha="right",
                          fontfamily=family or "DejaVu Sans")
            ax.set_yticks(range(len(output)), output, fontfamily=family or "DejaVu Sans")
            ax.tick_params(labelsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)
