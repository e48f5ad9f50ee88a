"""llama.cpp started the same way on every machine: weight repacking off.

llama.cpp repacks weights at load into CPU-specific layouts ("extra buffer types": AMX tiles,
AVX-512 interleaved blocks) when the CPU has them. Measured on a 2-core AMX machine (Sapphire
Rapids class, in a sandbox): any prompt of more than one token then segfaults inside
`llama_decode`, for the embedded server and for in-process `Llama` alike; with repacking off
the same build answers. Off everywhere also keeps greedy outputs from depending on which
kernels a CPU offers. `python -m memeval.llama_boot <llama_cpp.server args>` runs the server so.
"""

from __future__ import annotations

import runpy
from typing import Any


def patch() -> None:
    """Make every `llama_cpp.Llama` created afterwards load without extra buffer types."""
    import llama_cpp
    import llama_cpp.llama as llama_mod

    if getattr(llama_cpp, "_memeval_no_repack", False):
        return
    default = llama_cpp.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    llama_cpp.llama_model_default_params = params
    llama_mod.llama_cpp.llama_model_default_params = params
    llama_cpp._memeval_no_repack = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    patch()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
