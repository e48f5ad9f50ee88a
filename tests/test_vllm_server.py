"""vLLM's OpenAI server as memeval's endpoint (`--llm vllm:PATH`), on SmolLM2-135M exported
from the embedded GGUF. Needs the vLLM extra: ./scripts/test installs it, so its absence is a
set-up failure, not a skip."""

from __future__ import annotations

import json
from contextlib import ExitStack

import httpx
import jsonschema
import pytest

from memeval.adapters.lm.vllm_lm import NOT_INSTALLED, vllm_python
from memeval.errors import UserError

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                           "population": {"type": "integer"}},
          "required": ["city", "population"], "additionalProperties": False}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from memeval.adapters.lm.hf import export_plain_checkpoint

    return export_plain_checkpoint(tmp_path_factory.mktemp("vllm") / "smollm2-135m")


def test_missing_vllm_env_is_one_clear_line(monkeypatch, tmp_path) -> None:
    from memeval.adapters.lm.vllm_server import VLLMServer

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("MEMEVAL_VLLM_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(UserError, match="--extra vllm"):
        VLLMServer(tmp_path)


def test_not_a_checkpoint_names_the_folder(tmp_path) -> None:
    from memeval.adapters.lm.vllm_server import VLLMServer

    with pytest.raises(UserError, match="no config.json"):
        VLLMServer(tmp_path / "nothing-here")


@pytest.mark.slow
def test_server_that_dies_at_start_quotes_its_log(tmp_path) -> None:
    assert vllm_python() is not None, NOT_INSTALLED
    from memeval.adapters.lm.vllm_server import VLLMServer

    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    srv = VLLMServer(bad, log_path=tmp_path / "vllm.log")
    with pytest.raises(UserError, match=r"vLLM server exited \(code [1-9]") as e:
        srv.start(timeout_s=240)
    assert str(tmp_path / "vllm.log") in str(e.value) and "|" in str(e.value)  # the tail
    assert srv.proc is None


@pytest.mark.slow
def test_vllm_endpoint_chat_schema_identity_and_stop(ckpt, tmp_path) -> None:
    assert vllm_python() is not None, NOT_INSTALLED
    from memeval.llm_open import LLMOptions, open_llm
    from memeval.adapters.lm.vllm_server import VLLMServer

    lines: list[str] = []
    stack = ExitStack()
    with stack:
        client = open_llm(LLMOptions(spec=f"vllm:{ckpt}", no_cache=True), stack,
                          log_dir=tmp_path, notify=lines.append)
        ep = client.endpoint
        assert ep.backend == "vllm" and client.max_connections == 8
        assert any(line.startswith("vLLM ready at ") for line in lines), lines
        assert client.models_sync() == [ckpt.name]

        res = client.chat_sync([{"role": "user", "content": "What is the capital of France?"}],
                               max_tokens=16)
        assert "Paris" in res.text and res.completion_tokens > 0

        schema_res = client.chat_sync(
            [{"role": "user", "content": "Name a city and its population as JSON."}],
            schema=SCHEMA, max_tokens=48)
        jsonschema.validate(json.loads(schema_res.text), SCHEMA)  # guided decoding held
        assert schema_res.json == json.loads(schema_res.text)

        # the identity names vLLM and the weights, never the port: the cache key is stable
        assert str(ep.identity).startswith(f"vllm:{ckpt.name}@")
        assert "+vllm-0.32" in ep.identity and str(client.endpoint.base_url) not in ep.identity
        other = VLLMServer(ckpt, port=ep_port(ep.base_url) + 1)
        assert other.url != ep.base_url and other.endpoint().identity == ep.identity
        url = ep.base_url
    with pytest.raises(httpx.TransportError):  # the ExitStack stopped the server
        httpx.get(f"{url}/models", timeout=2)


def ep_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])
