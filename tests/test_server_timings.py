"""llama.cpp's own per-call timings from the embedded server's log (memeval.server.read_timings):
what the benchmarks use to say how many prompt tokens a run really decoded."""

from __future__ import annotations

from pathlib import Path

import httpx

from memeval.server import EmbeddedServer, read_timings

# two calls as llama-cpp-python 0.3.x prints them with --verbose True (the numbers are invented)
LOG = """\
Llama._create_completion: cache miss
llama_perf_context_print:        load time =    3133.13 ms
llama_perf_context_print: prompt eval time =    3132.44 ms /   812 tokens (    3.86 ms per token)
llama_perf_context_print:        eval time =     312.78 ms /    19 runs   (   16.46 ms per token)
llama_perf_context_print:       total time =    3455.55 ms /   831 tokens
Llama._create_completion: cache save
llama_perf_context_print:        load time =    3133.13 ms
llama_perf_context_print: prompt eval time =     131.50 ms /    30 tokens (    4.39 ms per token)
llama_perf_context_print:        eval time =     148.50 ms /     9 runs   (   16.51 ms per token)
llama_perf_context_print:       total time =     285.13 ms /    39 tokens
"""


def test_sums_prompt_and_generation_per_call_and_slices_by_offset(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text(LOG)
    t = read_timings(log)
    assert (t.calls, t.prompt_tokens, t.gen_tokens) == (2, 842, 28)
    assert abs(t.prompt_s - 3.26394) < 1e-9 and abs(t.gen_s - 0.46128) < 1e-9
    second = read_timings(log, LOG.index("Llama._create_completion: cache save"))
    assert (second.calls, second.prompt_tokens, second.gen_tokens) == (1, 30, 9)


def test_real_server_reports_the_reused_prefix_as_not_decoded(tmp_path: Path):
    log = tmp_path / "server.log"
    prefix = "Here is a list of facts about the weather in many cities. " * 20
    with EmbeddedServer(kv_cache=False, timings=True, log_path=log) as srv:
        start = log.stat().st_size
        usage = []
        for q in ("Which city is warm?", "Which city is cold?"):
            r = httpx.post(f"{srv.url}/chat/completions", timeout=120, json={
                "model": srv.endpoint().model, "max_tokens": 4, "temperature": 0,
                "messages": [{"role": "user", "content": prefix + q}]})
            usage.append(r.json()["usage"])
        first = read_timings(log, start)
    assert first.calls == 2
    assert first.gen_tokens >= 2 and first.prompt_s > 0
    # the first prompt is decoded whole; the second only past the shared prefix
    decoded_second = first.prompt_tokens - usage[0]["prompt_tokens"]
    assert 0 < decoded_second < usage[1]["prompt_tokens"] // 4
