"""PyTorch prediction beside a busy process: the old thread layout against the new one.

Usage:
    python benchmarks/bench_contention.py [--n 1000] [--repeat 3] [--model DIR]
        [--out benchmarks/results/contention.json]
    python benchmarks/bench_contention.py --report    # the table of --out, no measuring

Two layouts of the same PyTorch classifier scoring the same texts (``predict_proba``, raw
text to probabilities):

- old: one call at a time in the caller's thread on torch's intra-op threads, one per core
  (sentirnn's behaviour before ``--threads``);
- new: the default now, one single-threaded call per core side by side with the next texts
  encoded meanwhile (``sentirnn.inference.workers``, ``sentirnn.inference.pipeline``).

Each runs idle and beside a second busy process: a PyTorch training loop (a BiLSTM,
forward and backward) on all cores, the kind of neighbour another engineer's tests or
training make. Data: the SST-2 dev sentences and the first ``--n`` IMDb training reviews
(at most ``--n`` of each). The model is ``--model DIR``, else the default BiLSTM trained
for one epoch on 8,000 SST-2 training phrases (seconds; only speed is measured here).

Every (data, load, layout) row runs in a fresh process, so thread settings never leak from
one row into the next; it reports the median, best and worst docs/s of ``--repeat`` calls
after a warm-up call, and ``others``: the cores that processes other than itself kept busy
meanwhile (from /proc/stat), which says whether an "idle" row was idle and how hard the
neighbour pushed in a busy one. The results JSON (machine, CPU, date, load average, rows,
ratios) is written beside this script. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from common import DATA, cpu_model, matmul_gflops

HERE = Path(__file__).resolve().parent
DATASETS = {"sst2-dev": DATA / "sst2/dev.csv.gz", "imdb-train": DATA / "imdb/train.csv.gz"}
# The neighbour: a training loop on all cores (torch's default threads). It prints once it
# has run a step, so that no row starts before it is busy.
NEIGHBOUR = """
import torch
net = torch.nn.LSTM(200, 128, batch_first=True, bidirectional=True)
opt = torch.optim.Adam(net.parameters())
x = torch.randn(64, 30, 200)
for step in range(10**9):
    opt.zero_grad()
    net(x)[0].sum().backward()
    opt.step()
    if step == 0:
        print("busy", flush=True)
"""


# ---- one row, in its own process -------------------------------------------------------------
def busy_jiffies() -> int:
    """Jiffies every core spent running something, since boot (/proc/stat's first line)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def own_cpu_seconds() -> float:
    return sum(os.times()[:2])


def row(model: str, data: str, n: int, layout: str, repeat: int) -> dict:
    """Score the texts ``repeat`` times in one layout; the figures of this process."""
    import numpy as np
    import torch

    from sentirnn.data.dataset import read_texts
    from sentirnn.estimators.classifier import load

    texts = read_texts(DATASETS[data])[0][:n]
    clf = load(model)
    if layout == "old":
        torch.set_num_threads(os.cpu_count() or 1)  # what training.set_threads left behind
        clf._pool = lambda: (1, None)  # every call in this thread, as before --threads
    else:
        clf.set_threads(None)
    tokens = float(np.mean([len(s) for s in clf._encode(texts)]))
    clf.predict_proba(texts[:64])  # warm-up: allocator, first-call costs
    tick = os.sysconf("SC_CLK_TCK")
    jiffies, cpu, start = busy_jiffies(), own_cpu_seconds(), time.perf_counter()
    seconds = []
    for _ in range(repeat):
        t = time.perf_counter()
        clf.predict_proba(texts)
        seconds.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    others = ((busy_jiffies() - jiffies) / tick - (own_cpu_seconds() - cpu)) / wall
    return {"texts": len(texts), "mean_tokens": round(tokens, 1), "seconds": seconds,
            "others_cores": round(max(0.0, others), 2)}


# ---- the driver ------------------------------------------------------------------------------
def run_row(args, model: str, data: str, load: str, layout: str) -> dict:
    neighbour = None
    if load == "busy":
        neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], stdout=subprocess.PIPE,
                                     text=True)
        if neighbour.stdout.readline().strip() != "busy":
            raise SystemExit("the busy neighbour process did not start")
    load1 = os.getloadavg()[0]
    try:
        out = subprocess.run([sys.executable, __file__, "--row", model, data, str(args.n),
                              layout, str(args.repeat)], capture_output=True, text=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    if out.returncode:
        raise SystemExit(f"row {data}/{load}/{layout} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rates = [result["texts"] / s for s in result["seconds"]]
    return {"data": data, "load": load, "layout": layout, **result,
            "docs_per_s": round(statistics.median(rates), 1),
            "best_docs_per_s": round(max(rates), 1), "worst_docs_per_s": round(min(rates), 1),
            "load1_before": round(load1, 2)}


def train_model(folder: Path) -> str:
    """The default BiLSTM, one epoch on 8,000 SST-2 training phrases, in a child process."""
    code = ("import sys\nfrom sentirnn import SentimentClassifier, read_dataset\n"
            f"ds = read_dataset({str(DATA / 'sst2/train.csv.gz')!r})\n"
            "clf = SentimentClassifier(max_epochs=1, language='en', progress=False)\n"
            "clf.fit(ds.texts[:8000], ds.labels[:8000]).save(sys.argv[1])\n")
    subprocess.run([sys.executable, "-c", code, str(folder / "model")], check=True,
                   capture_output=True)
    return str(folder / "model")


def machine() -> dict:
    import torch

    flags = Path("/proc/cpuinfo").read_text()
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "vector_isa": "AVX-512" if " avx512f" in flags else
                          "AVX2" if " avx2" in flags else "other",
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "python": sys.version.split()[0],
            "matmul_gflops_fp32": round(matmul_gflops(), 1),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="Texts of each data set, at most.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed calls per row.")
    parser.add_argument("--model", default=None, help="Model directory (default: train one).")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "contention.json")
    parser.add_argument("--report", action="store_true",
                        help="print the table of --out (its machine, rows, ratios); measure "
                             "nothing")
    parser.add_argument("--row", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        info = json.loads(args.out.read_text(encoding="utf-8"))
        print(f"machine: {info['machine']}\nargs: {info['args']}")
        print(table(info["rows"], info["ratios"]))
        return
    if args.row:
        model, data, n, layout, repeat = args.row
        print(json.dumps(row(model, data, int(n), layout, int(repeat))))
        return
    if args.n < 1 or args.repeat < 1:
        raise SystemExit("--n and --repeat must be at least 1")
    info = {"machine": machine(), "load_average_start": [round(v, 2) for v in os.getloadavg()]}
    print(f"machine: {info['machine']}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-contention-"))
    try:
        model = args.model or train_model(tmp)
        rows = [run_row(args, model, data, load, layout) for data in DATASETS
                for load in ("idle", "busy") for layout in ("old", "new")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    info["model"] = args.model or "default BiLSTM, 1 epoch on 8,000 SST-2 training phrases"
    info["neighbour"] = "a PyTorch BiLSTM training loop (64 x 30 x 200 batches) on all cores"
    info["args"] = {"n": args.n, "repeat": args.repeat}
    info["rows"] = rows
    info["ratios"] = ratios(rows)
    print(table(rows, info["ratios"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


def ratios(rows: list[dict]) -> list[dict]:
    """new ÷ old under each load, and busy ÷ idle for each layout, per data set (medians)."""
    rate = {(r["data"], r["load"], r["layout"]): r["docs_per_s"] for r in rows}
    out = []
    for data in DATASETS:
        out.append({"data": data,
                    **{f"new_over_old_{load}": round(rate[data, load, "new"] /
                                                     rate[data, load, "old"], 2)
                       for load in ("idle", "busy")},
                    **{f"busy_over_idle_{layout}": round(rate[data, "busy", layout] /
                                                         rate[data, "idle", layout], 2)
                       for layout in ("old", "new")}})
    return out


def table(rows: list[dict], ratio_rows: list[dict]) -> str:
    lines = [f"{'data':<11}{'texts':>6}{'tokens':>7}  {'load':<5}{'layout':<7}{'docs/s':>8}"
             f"{'best':>8}{'worst':>8}{'others':>8}"]
    lines.append("-" * len(lines[0]))
    for r in rows:
        lines.append(f"{r['data']:<11}{r['texts']:>6}{r['mean_tokens']:>7.0f}  {r['load']:<5}"
                     f"{r['layout']:<7}{r['docs_per_s']:>8.0f}{r['best_docs_per_s']:>8.0f}"
                     f"{r['worst_docs_per_s']:>8.0f}{r['others_cores']:>8.2f}")
    lines.append("")
    for r in ratio_rows:
        lines.append(f"{r['data']}: new/old idle {r['new_over_old_idle']:.2f}, busy "
                     f"{r['new_over_old_busy']:.2f}; busy/idle old {r['busy_over_idle_old']:.2f},"
                     f" new {r['busy_over_idle_new']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
