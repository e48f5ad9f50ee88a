"""OpenAI-compatible LLM client: bounded async connections, retries, JSON schemas, accounting, cache.

One client serves the answerer, the judges and the memory systems themselves. All requests run on
the client's own event loop thread, so async callers (the runner) and sync callers (memory
libraries running in worker threads) share one connection pool, one semaphore and one cache.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from memeval.endpoint import Endpoint
from memeval.jsontext import loads_lenient
from memeval.errors import EndpointDown, UserError
from memeval.llm_cache import ResponseCache, cache_key

T = TypeVar("T")


class LLMError(RuntimeError):
    """A request the server refused (not an outage): recorded as a per-sample failure."""


@dataclass
class LLMResult:
    text: str
    json: Any | None = None  # parsed output when a schema was requested and the text parsed
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None


@dataclass
class CallerUsage:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        pct = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 4) if lat else None)
        return {"calls": self.calls, "cache_hits": self.cache_hits, "failures": self.failures,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "seconds": round(self.seconds, 3), "latency_p50": pct(0.5), "latency_p95": pct(0.95)}


class Ledger:
    """Tokens, calls and latency per caller ("answerer", "judge", "system:amem", ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_caller: dict[str, CallerUsage] = {}

    def record(self, caller: str, res: LLMResult | None, failed: bool = False) -> None:
        with self._lock:
            u = self.by_caller.setdefault(caller, CallerUsage())
            u.calls += 1
            if failed or res is None:
                u.failures += 1
                return
            if res.cached:
                u.cache_hits += 1
                return  # cached answers cost nothing: tokens and time count only real calls
            u.prompt_tokens += res.prompt_tokens
            u.completion_tokens += res.completion_tokens
            u.seconds += res.latency_s
            u.latencies.append(res.latency_s)

    def summary(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: v.summary() for k, v in sorted(self.by_caller.items())}


def schema_format(backend: str, schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's server wants json_object+schema and rejects OpenAI's json_schema form.
    vLLM (0.32) takes OpenAI's form and turns it into guided decoding on the schema
    (StructuredOutputsParams(json=...)); its json_object form would drop the schema."""
    if backend == "llamacpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _is_schema_rejection(status: int, body: str) -> bool:
    return status in (400, 422, 500) and ("response_format" in body or "json_schema" in body)


class LLMClient:
    def __init__(self, endpoint: Endpoint, *, cache: ResponseCache | None = None,
                 max_connections: int = 4, timeout_s: float = 300.0, retries: int = 4,
                 backoff_s: float = 0.5, seed: int | None = 0):
        self.endpoint = endpoint
        self.cache = cache
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.seed = seed
        self.ledger = Ledger()
        self._backend = endpoint.backend
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="memeval-llm",
                                        daemon=True)
        self._thread.start()
        self._http: httpx.AsyncClient | None = None
        self._sem: asyncio.Semaphore | None = None
        self._counts: dict[str, int] = {}

    @property
    def identity(self) -> str:
        return self.endpoint.identity

    # ---- public API (async and sync share the implementation) ----
    async def chat(self, messages: list[dict[str, str]], **kw: Any) -> LLMResult:
        return await asyncio.wrap_future(self._submit(self._chat(messages, **kw)))

    def chat_sync(self, messages: list[dict[str, str]], **kw: Any) -> LLMResult:
        if threading.current_thread() is self._thread:
            raise RuntimeError("chat_sync called on the client's own loop thread")
        return self._submit(self._chat(messages, **kw)).result()

    async def complete(self, prompt: str, **kw: Any) -> LLMResult:
        return await asyncio.wrap_future(self._submit(self._complete(prompt, **kw)))

    def complete_sync(self, prompt: str, **kw: Any) -> LLMResult:
        return self._submit(self._complete(prompt, **kw)).result()

    async def count_tokens(self, text: str) -> int:
        """Exact count from llama.cpp's tokenizer endpoint; elsewhere a conservative estimate."""
        return await asyncio.wrap_future(self._submit(self._count(text)))

    def models_sync(self) -> list[str]:
        """GET /models: the preflight check that the endpoint is up."""
        return self._submit(self._models()).result()

    def close(self) -> None:
        if self._http is not None:
            self._submit(self._http.aclose()).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # ---- internals ----
    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.endpoint.api_key}"} \
                if self.endpoint.api_key else {}
            limits = httpx.Limits(max_connections=self.max_connections)
            self._http = httpx.AsyncClient(base_url=self.endpoint.base_url, headers=headers,
                                           timeout=self.timeout_s, limits=limits)
            self._sem = asyncio.Semaphore(self.max_connections)
        return self._http

    async def _count(self, text: str) -> int:
        if self._backend == "llamacpp" and text not in self._counts:
            root = self.endpoint.base_url.rsplit("/v1", 1)[0]
            try:
                resp = await self._client().post(f"{root}/extras/tokenize/count",
                                                 json={"input": text})
                resp.raise_for_status()
                self._counts[text] = int(resp.json()["count"])
            except (httpx.HTTPError, KeyError, ValueError):
                self._counts[text] = len(text) // 3 + 1
        return self._counts.get(text, len(text) // 3 + 1)  # ~3 chars/token errs on the long side

    async def _models(self) -> list[str]:
        resp = await self._request("GET", "/models", None)
        return [m.get("id", "") for m in resp.get("data", [])]

    async def _chat(self, messages: list[dict[str, str]], *, caller: str = "answerer",
                    schema: dict[str, Any] | None = None, temperature: float = 0.0,
                    max_tokens: int = 64, cache_scope: str | None = None, attempt: int = 0,
                    stop: list[str] | None = None, use_cache: bool = True) -> LLMResult:
        params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens,
                                  "seed": self.seed, "stop": stop, "schema": schema}
        key = cache_key(endpoint=self.identity, model=self.endpoint.model, kind="chat",
                        params=params, messages=messages, scope=cache_scope, attempt=attempt)
        body: dict[str, Any] = {"model": self.endpoint.model, "messages": messages,
                                "temperature": temperature, "max_tokens": max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed + attempt
        if stop:
            body["stop"] = stop
        return await self._call("/chat/completions", body, key, caller, schema, use_cache,
                                lambda c: c["message"].get("content") or "")

    async def _complete(self, prompt: str, *, caller: str = "answerer", temperature: float = 0.0,
                        max_tokens: int = 64, cache_scope: str | None = None,
                        stop: list[str] | None = None, use_cache: bool = True) -> LLMResult:
        params = {"temperature": temperature, "max_tokens": max_tokens, "seed": self.seed,
                  "stop": stop}
        key = cache_key(endpoint=self.identity, model=self.endpoint.model, kind="completion",
                        params=params, prompt=prompt, scope=cache_scope)
        body: dict[str, Any] = {"model": self.endpoint.model, "prompt": prompt,
                                "temperature": temperature, "max_tokens": max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed
        if stop:
            body["stop"] = stop
        return await self._call("/completions", body, key, caller, None, use_cache,
                                lambda c: c.get("text") or "")

    async def _call(self, path: str, body: dict[str, Any], key: str, caller: str,
                    schema: dict[str, Any] | None, use_cache: bool, extract: Any) -> LLMResult:
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                res = LLMResult(**{**hit, "cached": True})
                self.ledger.record(caller, res)
                return res
        if schema is not None:
            body["response_format"] = schema_format(self._backend, schema)
        t0 = time.perf_counter()
        try:
            data = await self._request("POST", path, body, schema=schema)
        except Exception:
            self.ledger.record(caller, None, failed=True)
            raise
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        text = extract(choice)
        res = LLMResult(text=text, json=loads_lenient(text) if schema is not None else None,
                        prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        completion_tokens=int(usage.get("completion_tokens") or 0),
                        latency_s=time.perf_counter() - t0,
                        finish_reason=choice.get("finish_reason"))
        self.ledger.record(caller, res)
        if use_cache and self.cache is not None:
            stored = {k: v for k, v in res.__dict__.items() if k != "cached"}
            # off the loop: a commit blocks for ms (more on a busy disk), and on the loop it
            # stalls every request in flight (measured against vLLM at concurrency 8)
            await asyncio.to_thread(self.cache.put, key, stored, caller)
        return res

    async def _request(self, method: str, path: str, body: dict[str, Any] | None,
                       schema: dict[str, Any] | None = None) -> dict[str, Any]:
        http = self._client()
        assert self._sem is not None
        last: str = ""
        for i in range(self.retries + 1):
            if i:
                await asyncio.sleep(self.backoff_s * 2 ** (i - 1))
            try:
                async with self._sem:
                    resp = await http.request(method, path, json=body)
            except httpx.TransportError as e:  # refused, reset, timed out: maybe transient
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                continue
            if resp.status_code == 200:
                return resp.json()
            text = resp.text[:500]
            if schema is not None and body is not None and _is_schema_rejection(
                    resp.status_code, text) and body["response_format"]["type"] == "json_schema":
                # Servers such as llama.cpp's reject OpenAI's json_schema: switch the format
                # (for this request, even if a concurrent one switched the client already).
                self._backend = "llamacpp"
                body["response_format"] = schema_format("llamacpp", schema)
                continue
            if resp.status_code in (408, 409, 429) or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {text}"
                continue
            if resp.status_code in (401, 403):  # no request will pass: the user must fix the key
                raise UserError(f"{self.endpoint.base_url} refused the API key (HTTP "
                                f"{resp.status_code}: {text[:200]}); give it in the URL "
                                "(http://user:KEY@host/v1::MODEL) or in MEMEVAL_LLM_API_KEY")
            raise LLMError(f"{self.endpoint.base_url}{path} answered HTTP {resp.status_code}: {text}")
        raise EndpointDown(f"LLM endpoint {self.endpoint.base_url} ({self.endpoint.model}) failed "
                           f"after {self.retries + 1} attempts: {last}")
