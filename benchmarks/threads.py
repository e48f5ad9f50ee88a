"""The embedded server beside memeval's own CPU work: prompt and generation throughput of
llama.cpp, and the work rate of a torch process beside it, per thread count and OpenMP wait
setting. Measured in one run.

memeval runs torch embedders, memory libraries and training packs next to the server. Both
llama.cpp (built with OpenMP) and torch use OpenMP thread pools whose idle threads spin before
sleeping; on 2 cores two spinning pools can starve each other, while threads that never spin
(OMP_WAIT_POLICY=PASSIVE) pay a wake-up per operator: a one-token decode runs ~300 small
parallel regions. Arms: server threads, the server's wait setting (the neighbour gets the same
OMP_WAIT_POLICY; `spin=N` is GOMP_SPINCOUNT=N with no policy, spin=300000 libgomp's default),
the neighbour's torch threads (0 = alone).

    .venv/bin/python benchmarks/threads.py [--reps 3] [--tokens 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

import httpx

NEIGHBOUR = """
import os, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(384, 384)
n, t0 = 0, time.perf_counter()
while True:
    for _ in range(50):
        a = torch.tanh(a @ a.T / 384)
    n += 50
    if time.perf_counter() - t0 > 0.5:
        print(n / (time.perf_counter() - t0), flush=True)
        n, t0 = 0, time.perf_counter()
"""


def prompt_rate(url: str, model: str, tokens: int, reps: int) -> float:
    """Prompt tokens per second (fresh prompts: nothing reused), median of reps."""
    rates = []
    for _ in range(reps):
        words = " ".join(f"w{uuid.uuid4().hex[:6]}" for _ in range(tokens // 4))
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/chat/completions", timeout=600, json={
            "model": model, "max_tokens": 1, "temperature": 0,
            "messages": [{"role": "user", "content": words}]}).json()
        rates.append(r["usage"]["prompt_tokens"] / (time.perf_counter() - t0))
    return sorted(rates)[len(rates) // 2]


def gen_rate(url: str, model: str, tokens: int, reps: int) -> float:
    """Generated tokens per second after a short prompt (the judges' regime), median of reps."""
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/chat/completions", timeout=600, json={
            "model": model, "max_tokens": tokens, "temperature": 0,
            "messages": [{"role": "user", "content": f"Tell a long story {uuid.uuid4().hex}"}]})
        rates.append(r.json()["usage"]["completion_tokens"] / (time.perf_counter() - t0))
    return sorted(rates)[len(rates) // 2]


def server_env(setting: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if setting.startswith("spin="):  # an explicit setting: the server keeps it
        env["GOMP_SPINCOUNT"] = setting[5:]
    elif setting != "default":
        env["OMP_WAIT_POLICY"] = setting
    return env


def neighbour(torch_threads: int, policy: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    return subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(torch_threads)],
                            stdout=subprocess.PIPE, text=True, env=env)


def neighbour_rate(proc: subprocess.Popen[str]) -> float:
    proc.kill()
    out = proc.communicate()[0].split()
    vals = [float(x) for x in out[1:]]  # the first half-second includes start-up
    return sum(vals) / len(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--gen", type=int, default=64)
    a = ap.parse_args()
    from memeval import server as srv_mod

    base = {}
    for pol in (None, "PASSIVE"):
        alone = neighbour(2, pol)
        time.sleep(4)
        base[pol or "default"] = neighbour_rate(alone)
    base_torch = base["default"]
    rows = []
    settings = ("spin=300000", "PASSIVE", "spin=10000", "spin=1000")
    arms = [(2, s, t) for t in (0, 2) for s in settings]
    for threads, setting, torch_threads in arms:
        before = dict(os.environ)
        os.environ.clear()
        os.environ.update(server_env(setting))
        try:
            with srv_mod.EmbeddedServer(threads=threads, kv_cache=False) as srv:
                model = srv.endpoint().model
                prompt_rate(srv.url, model, 64, 1)  # warm
                pol = None if setting.startswith("spin") else setting
                proc = neighbour(torch_threads, pol) if torch_threads else None
                rate = prompt_rate(srv.url, model, a.tokens, a.reps)
                grate = gen_rate(srv.url, model, a.gen, a.reps)
                torch_rate = neighbour_rate(proc) if proc else float("nan")
        finally:
            os.environ.clear()
            os.environ.update(before)
        rows.append((threads, setting, torch_threads, rate, grate, torch_rate))
    print(f"torch neighbour alone (2 threads): default policy {base['default']:.0f} steps/s, "
          f"PASSIVE {base['PASSIVE']:.0f}; cores: {os.cpu_count()}")
    print(f"{'srv thr':>8}{'srv wait':>12}{'torch thr':>10}{'prompt tok/s':>14}{'vs alone':>10}"
          f"{'gen tok/s':>11}{'vs alone':>10}{'torch steps/s':>15}{'vs alone':>10}")
    for thr, pol, tt, rate, grate, tr in rows:
        print(f"{thr:>8}{pol:>12}{tt:>10}{rate:>14.0f}{rate / rows[0][3]:>9.2f}x"
              f"{grate:>11.1f}{grate / rows[0][4]:>9.2f}x{tr:>15.0f}{tr / base_torch:>9.2f}x")


if __name__ == "__main__":
    main()
