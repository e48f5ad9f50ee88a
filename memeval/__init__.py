"""memeval: evaluation and governance benchmark suite for memory in LLM systems."""

__version__ = "0.1.0"
