"""HTTP serving load: requests/s, texts/s and latency of ``sentirnn serve`` on loopback.

Usage:
    python benchmarks/bench_http.py MODEL_DIR [--duration 60] [--clients 4] [--batches 1,32]
        [--workers 1] [--backend torch] [--data FILE] [--n 2000] [--words N] [--port 0]
        [--json OUT]

Starts ``sentirnn serve MODEL_DIR`` as a child process on 127.0.0.1 (a free port unless
``--port``), waits for ``/healthz``, then for each batch size runs ``--clients`` threads,
each with its own keep-alive connection, posting ``/v1/predict`` back to back for
``--duration`` seconds, and prints requests/s, texts/s, p50/p99 latency and errors. The
server is stopped at the end. Texts come from ``--data`` (any file ``sentirnn.read_texts``
reads, e.g. ../shared/data/sst2/dev.csv.gz) or, without it, from a built-in list.

Only loopback addresses are ever contacted, every loop is bounded by a deadline and a
request cap, and the script stops by itself. The load generator runs on the same machine
as the server: on a 2-core machine the clients take CPU from the server, so the figures are
a floor, comparable between runs on the same machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from sentirnn.export.backends import BACKENDS

HOST = "127.0.0.1"
MAX_REQUESTS_PER_CLIENT = 1_000_000  # a hard cap besides the deadline: the loop always ends
FALLBACK_TEXTS = [
    "the food was great and the delivery fast", "awful service, the soup was cold",
    "I loved this movie, the plot was excellent", "boring film and terrible acting",
    "not bad at all, would order again", "the worst pizza I have had in years",
    "这家外卖很好吃，送餐也快", "送餐太慢了，饭都凉了",
    "味道不错，包装也很好", "太难吃了，再也不点了",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def load_texts(data: Path | None, n: int, words: int | None = None) -> list[str]:
    if data is None:
        return FALLBACK_TEXTS
    from sentirnn import read_texts

    texts, _report = read_texts(data)
    texts = [t for t in texts[:n] if t]
    if words:  # e.g. IMDb reviews cut to their first 50 words: "a 50-token text"
        texts = [" ".join(t.split()[:words]) for t in texts if len(t.split()) >= words]
    if not texts:
        sys.exit(f"{data} holds no texts")
    return texts


def start_server(args, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "sentirnn", "serve", str(args.model), "--host", HOST,
               "--port", str(port), "--workers", str(args.workers), "--backend", args.backend]
    if args.threads:
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited before it was ready:\n" + server.stderr.read())
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_server(server)
    sys.exit("the server did not answer /healthz within 120 s")


def stop_server(server: subprocess.Popen) -> None:
    # The server runs in its own session: signal that process group (ours, by id), so that
    # uvicorn's worker processes stop with it.
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def client_loop(url: str, batches: list[list[str]], deadline: float, out: dict) -> None:
    latencies, errors, texts = [], 0, 0
    with httpx.Client(timeout=30) as client:
        for i in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            batch = batches[i % len(batches)]
            start = time.perf_counter()
            try:
                ok = client.post(url, json={"texts": batch}).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok
            texts += len(batch) if ok else 0
    out.update(latencies=latencies, errors=errors, texts=texts)


def run_load(port: int, texts: list[str], batch: int, clients: int, duration: float) -> dict:
    url = f"http://{HOST}:{port}/v1/predict"
    # Rotate through the texts so consecutive requests are not the same batch.
    batches = [[texts[(start + j) % len(texts)] for j in range(batch)]
               for start in range(0, max(len(texts), batch) * 4, batch)]
    with httpx.Client(timeout=30) as warm:  # first calls pay for lazy imports and allocation
        for b in batches[:5]:
            warm.post(url, json={"texts": b})
    results = [{} for _ in range(clients)]
    start = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(url, batches, start + duration, r))
               for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    latencies = sorted(x for r in results for x in r["latencies"])
    requests = len(latencies)
    p = (lambda q: 1000 * latencies[min(requests - 1, int(q * requests))]) if latencies else (
        lambda q: float("nan"))
    return {"batch": batch, "clients": clients, "seconds": round(elapsed, 2),
            "requests": requests, "errors": sum(r["errors"] for r in results),
            "requests_per_s": requests / elapsed,
            "texts_per_s": sum(r["texts"] for r in results) / elapsed,
            "p50_ms": p(0.50), "p99_ms": p(0.99),
            "mean_ms": 1000 * statistics.fmean(latencies) if latencies else float("nan")}


def model_summary(model: Path) -> str:
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    arch = config.get("model", {})
    size = (model / "model.safetensors").stat().st_size
    return (f"{model.name}: {'bi' if arch.get('bidirectional') else ''}{arch.get('cell')} "
            f"layers={arch.get('layers')} emb={arch.get('embedding_dim')} "
            f"hidden={arch.get('hidden_size')} vocab={arch.get('vocab_size')} "
            f"pooling={arch.get('pooling')}; weights {size / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per batch size.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument("--batches", default="1,32", help="Comma-separated batch sizes.")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="Server threads per worker.")
    parser.add_argument("--backend", default="torch", choices=(*BACKENDS, "auto"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--n", type=int, default=2000, help="Texts read from --data.")
    parser.add_argument("--words", type=int, default=None,
                        help="Keep texts of at least N words, cut to their first N.")
    parser.add_argument("--port", type=int, default=0, help="0: a free port.")
    parser.add_argument("--json", type=Path, default=None, help="Also write results here.")
    args = parser.parse_args()
    if not 0 < args.duration <= 3600 or not 0 < args.clients <= 64:
        sys.exit("--duration must be in (0, 3600] s and --clients in [1, 64]")
    batch_sizes = [int(b) for b in args.batches.split(",")]
    texts = load_texts(args.data, args.n, args.words)
    port = args.port or free_port()
    print(f"model {model_summary(args.model)}")
    print(f"server: {args.workers} worker(s), {args.backend} backend, threads/worker "
          f"{args.threads or 'default'}; {args.clients} clients on {HOST}:{port}; "
          f"{args.duration:g} s per batch size; {len(texts)} distinct texts")
    server = start_server(args, port)
    rows = []
    try:
        for batch in batch_sizes:
            rows.append(run_load(port, texts, batch, args.clients, args.duration))
    finally:
        stop_server(server)
    print(f"{'batch':>5} {'requests':>9} {'req/s':>8} {'texts/s':>9} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}")
    for r in rows:
        print(f"{r['batch']:>5} {r['requests']:>9} {r['requests_per_s']:>8.1f} "
              f"{r['texts_per_s']:>9.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>7}")
    if args.json:
        args.json.write_text(json.dumps({"model": model_summary(args.model), "rows": rows},
                                        indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
