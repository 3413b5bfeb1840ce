"""The corpus of ``sentirnn mt demo``: Tatoeba's English–Chinese pairs from manythings.org.

Licence CC-BY 2.0 France ("Attribution: www.manythings.org/anki and tatoeba.org"); every row's
``attribution`` column names the sentences' authors and is kept. The pairs are not shipped with
the package: the demo reads them from a file given with ``--data``, from
``$SENTIRNN_DATA/cmn_eng/train.tsv.gz`` or ``../shared/data/cmn_eng/train.tsv.gz``, or from a
copy downloaded once into ``~/.cache/sentirnn`` from manythings.org's ``cmn-eng.zip`` (whose
``cmn.txt`` has no header: English, Chinese, attribution, tab-separated).
"""

from __future__ import annotations

import io
import os
import urllib.request
import zipfile
from pathlib import Path

from sentirnn.data.parallel import ParallelData, read_parallel
from sentirnn.data.splits import group_split
from sentirnn.errors import DataError

URL = "https://www.manythings.org/anki/cmn-eng.zip"
ATTRIBUTION = "Attribution: www.manythings.org/anki and tatoeba.org (CC-BY 2.0 France)"
DEMO_SENTENCES = ["I love you.", "Where is the station?", "This book is very interesting.",
                  "He didn't come yesterday.", "What time is it now?",
                  "My mother is cooking dinner."]
HEADER = "en\tzh\tattribution\n"


def cache_dir() -> Path:
    return Path(os.environ.get("SENTIRNN_CACHE", Path.home() / ".cache" / "sentirnn"))


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("SENTIRNN_DATA"):
        found.append(Path(os.environ["SENTIRNN_DATA"]) / "cmn_eng" / "train.tsv.gz")
    found += [Path("../shared/data/cmn_eng/train.tsv.gz"), cache_dir() / "cmn_eng.tsv"]
    return found


def download(url: str = URL, timeout: float = 60.0) -> Path:
    """Fetch manythings.org's zip once and keep its pairs as a TSV with a header."""
    target = cache_dir() / "cmn_eng.tsv"
    # manythings.org refuses clients that do not name themselves
    request = urllib.request.Request(url, headers={"User-Agent": "sentirnn (mt demo)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            text = archive.read("cmn.txt").decode("utf-8")
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"the English–Chinese pairs could not be downloaded from {url} ({err}); "
                        "download cmn-eng.zip yourself, add the header line 'en<TAB>zh<TAB>"
                        "attribution' to its cmn.txt and pass it with --data") from err
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_text(HEADER + text.replace("\r\n", "\n"), encoding="utf-8")
    tmp.replace(target)  # a half-written download never looks like a corpus
    return target


def demo_corpus(path=None) -> ParallelData:
    """The pairs from ``path``, else the first local copy found, else a download."""
    if path is None:
        path = next((p for p in _candidates() if p.exists()), None) or download()
    return read_parallel(path, "en", "zh")


def demo_split(pairs: ParallelData, seed: int = 0, held_out: float = 0.03):
    """→ (train, validation, held-out) pairs; each English sentence in one part only."""
    rows = group_split(pairs.sources, [1 - 2 * held_out, held_out, held_out], seed)
    return tuple(([pairs.sources[i] for i in part], [pairs.targets[i] for i in part])
                 for part in rows)
