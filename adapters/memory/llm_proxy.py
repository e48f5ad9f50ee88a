"""memeval's LLM client as a local OpenAI-compatible endpoint, for a memory library that runs in
its own environment (a worker process) and brings its own OpenAI client (Graphiti, MemOS).

Every request goes through the adapter's LLMSeam, so the library's calls are cached, counted in
the ledger as `system:<name>`, their JSON schema translated for the server (llama.cpp rejects
OpenAI's `json_schema` form) and their failures counted per kind, exactly as for the in-process
adapters. The step a failure is counted under is the first path segment when the library's base
URL is `http://127.0.0.1:PORT/<step>/v1` (default `llm`).

An outage of memeval's endpoint answers 503 and is remembered: the adapter raises it after the
worker's reply (`raise_outage`), so the sample fails instead of keeping a degraded memory that
the library stored after its own retries gave up.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memeval.adapters.memory.llm_seam import EndpointAbort, LLMSeam
from memeval.errors import EndpointDown

DEFAULT_MAX_TOKENS = 512  # OpenAI's default is "up to the window"; a library that sets none


def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks for, in either the OpenAI or the llama.cpp form."""
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return (rf.get("json_schema") or {}).get("schema") or {"type": "object"}
    if rf.get("type") == "json_object":
        return rf.get("schema") or {"type": "object"}
    return None


class LLMProxy:
    """Serves POST <step>/v1/chat/completions and GET <step>/v1/models on 127.0.0.1."""

    def __init__(self, seam: LLMSeam, *, model: str = "memeval") -> None:
        self.seam = seam
        self.model = model
        self.outage: EndpointDown | None = None
        self.calls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # the library's requests are in the ledger
                pass

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _step(self) -> str:
                first = self.path.strip("/").split("/")[0]
                return first if first and first != "v1" else "llm"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": proxy.model, "object": "model", "owned_by": "memeval"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                except (ValueError, json.JSONDecodeError) as e:
                    self._send(400, {"error": {"message": f"bad JSON body: {e}"}})
                    return
                code, payload = proxy.answer(body, self._step())
                self._send(code, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="memeval-llm-proxy")
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def base_url(self, step: str = "llm") -> str:
        return f"http://127.0.0.1:{self.port}/{step}/v1"

    def answer(self, body: dict[str, Any], step: str) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        if body.get("stream"):
            self.seam.failures.add(f"{step}.stream_refused")
            return 400, {"error": {"message": "memeval's proxy does not stream"}}
        if self.outage is not None:  # the sample fails anyway: do not hammer a dead endpoint
            return 503, {"error": {"message": str(self.outage)}}
        messages = [{"role": m.get("role", "user"), "content": _text(m.get("content"))}
                    for m in body.get("messages") or []]
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        try:
            res = self.seam.chat(messages, step=step, schema=requested_schema(body),
                                 temperature=float(body.get("temperature") or 0.0),
                                 max_tokens=int(max_tokens or DEFAULT_MAX_TOKENS))
        except EndpointAbort as e:
            self.outage = e.err
            return 503, {"error": {"message": str(e.err)}}
        except Exception as e:  # noqa: BLE001 - counted by the seam; the library sees the refusal
            return 400, {"error": {"message": f"{type(e).__name__}: {e}"}}
        return 200, {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                     "created": int(time.time()), "model": body.get("model") or self.model,
                     "choices": [{"index": 0, "finish_reason": res.finish_reason or "stop",
                                  "message": {"role": "assistant", "content": res.text}}],
                     "usage": {"prompt_tokens": res.prompt_tokens,
                               "completion_tokens": res.completion_tokens,
                               "total_tokens": res.prompt_tokens + res.completion_tokens}}

    def raise_outage(self) -> None:
        """After a worker's reply: an outage seen meanwhile fails the sample (and is cleared)."""
        if self.outage is not None:
            err, self.outage = self.outage, None
            raise err

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _text(content: Any) -> str:
    """OpenAI content may be a list of parts; the libraries here send text parts only."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)
