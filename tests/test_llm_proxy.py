"""The local OpenAI-compatible proxy that out-of-process libraries (Graphiti, MemOS) call: the
real OpenAI SDK through it reaches the real embedded server, a `json_schema` request (which
llama.cpp refuses) comes back as JSON under the schema, calls land in the ledger under the
system's caller and in the cache, and an outage is a 503 the adapter re-raises."""

from __future__ import annotations

import json

import pytest

from memeval.adapters.memory.base import FailureCounter
from memeval.adapters.memory.llm_proxy import LLMProxy
from memeval.adapters.memory.llm_seam import LLMSeam
from memeval.contracts import SystemContext
from memeval.endpoint import Endpoint
from memeval.errors import EndpointDown
from memeval.llm import LLMClient
from memeval.llm_cache import ResponseCache

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
def proxied(llm_server, tmp_path):
    client = LLMClient(llm_server.endpoint(), cache=ResponseCache(tmp_path / "r.sqlite"))
    failures = FailureCounter()
    ctx = SystemContext(storage_dir=tmp_path, llm=client, caller="system:probe")
    proxy = LLMProxy(LLMSeam(ctx, failures, "probe"))
    yield proxy, client, failures
    proxy.close()
    client.close()


def test_openai_sdk_through_the_proxy_is_cached_and_attributed(proxied):
    from openai import OpenAI

    proxy, client, failures = proxied
    sdk = OpenAI(base_url=proxy.base_url("extract"), api_key="unused", max_retries=0)
    ask = dict(model="whatever", temperature=0, max_tokens=32,
               messages=[{"role": "user", "content": "Where is the Eiffel tower? Answer JSON."}],
               response_format={"type": "json_schema",
                                "json_schema": {"name": "x", "schema": SCHEMA}})
    first = sdk.chat.completions.create(**ask)
    assert "city" in json.loads(first.choices[0].message.content)  # the grammar held
    assert first.usage.prompt_tokens > 0
    again = sdk.chat.completions.create(**ask)
    assert again.choices[0].message.content == first.choices[0].message.content
    usage = client.ledger.summary()["system:probe"]
    assert usage["calls"] == 2 and usage["cache_hits"] == 1
    assert [m.id for m in sdk.models.list()] == ["memeval"]
    assert failures.snapshot() == {}


def test_an_outage_is_a_503_that_the_adapter_raises(tmp_path):
    from openai import APIStatusError, OpenAI

    dead = LLMClient(Endpoint(base_url="http://127.0.0.1:9/v1", model="m"), retries=0)
    failures = FailureCounter()
    proxy = LLMProxy(LLMSeam(SystemContext(storage_dir=tmp_path, llm=dead, caller="system:p"),
                             failures, "p"))
    try:
        sdk = OpenAI(base_url=proxy.base_url(), api_key="unused", max_retries=0)
        with pytest.raises(APIStatusError) as err:
            sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert err.value.status_code == 503
        assert failures.snapshot() == {"llm.endpoint_down": 1}
        with pytest.raises(EndpointDown):
            proxy.raise_outage()
        proxy.raise_outage()  # cleared: the next sample may run
    finally:
        proxy.close()
        dead.close()
