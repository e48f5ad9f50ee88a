"""The LLM client against the real embedded llama.cpp server: schemas, cache, accounting, outages."""

import asyncio
import time

import pytest

from memeval.endpoint import Endpoint, parse_llm_spec, strip_secrets
from memeval.errors import EndpointDown, UserError
from memeval.llm import LLMClient, schema_format
from memeval.llm_cache import ResponseCache
from memeval.server import EmbeddedServer, free_port

SCHEMA = {"type": "object", "properties": {"label": {"type": "string", "enum": ["YES", "NO"]}},
          "required": ["label"]}
Q = [{"role": "user", "content": "Is the sky blue on a clear day? Reply with a label."}]


def test_schema_format_per_backend():
    assert schema_format("llamacpp", SCHEMA) == {"type": "json_object", "schema": SCHEMA}
    assert schema_format("openai", SCHEMA)["type"] == "json_schema"
    assert schema_format("openai", SCHEMA)["json_schema"]["schema"] == SCHEMA


def test_llm_spec_parsing_keeps_secrets_out_of_identity(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ep = parse_llm_spec("http://user:sk-abc123secret@localhost:8000/v1?api_key=zzz::qwen")
    assert ep.api_key == "sk-abc123secret" and ep.model == "qwen"
    assert "sk-abc" not in ep.identity and "zzz" not in ep.identity and "user" not in ep.base_url
    assert "sk-abc" not in str(ep.public()) and "sk-abc" not in repr(ep)
    assert strip_secrets("https://a:b@h:1/v1?token=t&x=1") == "https://h:1/v1?x=1"
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        parse_llm_spec("openai:gpt-4o-mini")
    with pytest.raises(UserError, match="expected"):
        parse_llm_spec("localhost:8000")


@pytest.mark.slow
def test_json_schema_cache_and_ledger(llm_server, tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = LLMClient(llm_server.endpoint(), cache=cache)
    try:
        first = client.chat_sync(Q, caller="judge", schema=SCHEMA, max_tokens=20)
        assert first.json in ({"label": "YES"}, {"label": "NO"}) and not first.cached
        again = asyncio.run(client.chat(Q, caller="judge", schema=SCHEMA, max_tokens=20))
        assert again.cached and again.text == first.text
        other_scope = client.chat_sync(Q, caller="answerer", schema=SCHEMA, max_tokens=20,
                                       cache_scope="epoch=1")
        assert not other_scope.cached  # sample/epoch is part of the key
        u = client.ledger.summary()
        assert u["judge"]["calls"] == 2 and u["judge"]["cache_hits"] == 1
        assert u["judge"]["prompt_tokens"] == first.prompt_tokens > 0
        assert u["answerer"]["calls"] == 1 and len(cache) == 2
        assert client.complete_sync("The capital of France is", max_tokens=4).text
    finally:
        client.close()


def test_cache_records_when_each_response_was_stored(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    before = time.time()
    cache.put("k", {"text": "x"}, "judge")
    assert cache.get("k") == {"text": "x"}
    created = cache._db.execute("SELECT created FROM responses WHERE key='k'").fetchone()[0]
    cache.close()
    assert created is not None and before <= created <= time.time()


@pytest.mark.slow
def test_kv_state_cache_does_not_change_greedy_answers(llm_server):
    """The session server keeps KV states for prefix reuse; a server without that cache must
    give the same greedy answers to two alternating prompt families (the case the cache is for)."""
    family = {"a": "You list facts about people. " + "Keep each fact short. " * 60,
              "b": "You decide whether a memory changes. " + "Answer ADD or NONE. " * 60}
    prompts = [[{"role": "system", "content": family[f]},
                {"role": "user", "content": f"Message {i}: Caroline adopted a dog named Rex."}]
               for i in range(2) for f in "ab"]

    def answers(server: EmbeddedServer) -> list[str]:
        client = LLMClient(server.endpoint(), cache=None)
        try:
            return [client.chat_sync(m, max_tokens=12).text for m in prompts]
        finally:
            client.close()

    assert llm_server.kv_cache
    with EmbeddedServer(kv_cache=False) as plain:
        assert answers(llm_server) == answers(plain)


@pytest.mark.slow
def test_concurrent_requests_are_bounded_and_all_answered(llm_server):
    client = LLMClient(llm_server.endpoint(), cache=None, max_connections=3)
    try:
        async def many():
            return await asyncio.gather(*(client.chat(
                [{"role": "user", "content": f"Say the number {i}."}], max_tokens=6)
                for i in range(6)))
        results = asyncio.run(many())
        assert len(results) == 6 and all(r.completion_tokens > 0 for r in results)
    finally:
        client.close()


def test_unreachable_endpoint_fails_after_retries_with_one_message():
    port = free_port()  # nothing listens here
    client = LLMClient(Endpoint(f"http://127.0.0.1:{port}/v1", "m"), retries=2, backoff_s=0.05)
    try:
        with pytest.raises(EndpointDown, match=rf"127.0.0.1:{port}/v1 \(m\) failed after 3 attempts"):
            client.chat_sync(Q)
        assert client.ledger.summary()["answerer"]["failures"] == 1
    finally:
        client.close()


@pytest.mark.slow
def test_embedded_server_dies_with_a_killed_memeval(tmp_path):
    """Also: `memeval serve` names the spec to use, with --concurrency 1 (llama.cpp's server
    answers one request at a time; 8 in flight would interleave shared-prefix prompts)."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    port = free_port()
    out = tmp_path / "serve.out"
    proc = subprocess.Popen([sys.executable, "-m", "memeval", "serve", "--port", str(port)],
                            stdout=out.open("w"), stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/v1/models"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError("`memeval serve` did not bring the server up in 180 s")
        server = subprocess.run(["pgrep", "-f", f"memeval.llama_boot .*--port {port}"],
                                capture_output=True, text=True).stdout.split()
        assert len(server) == 1
        want = f"--llm http://127.0.0.1:{port}/v1::smollm2-135m-instruct --concurrency 1"
        deadline = time.time() + 10
        while want not in out.read_text() and time.time() < deadline:
            time.sleep(0.1)
        assert want in out.read_text(), out.read_text()
        proc.send_signal(signal.SIGKILL)  # no cleanup code runs in memeval
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(f"/proc/{server[0]}"):
            time.sleep(0.1)
        status = open(f"/proc/{server[0]}/status").read() if os.path.exists(
            f"/proc/{server[0]}") else "gone"
        assert status == "gone" or "zombie" in status, "the server outlived memeval"
    finally:
        proc.kill()
