import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import shared_data, helpers


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read or write the user's response cache."""
    os.environ["MEMEVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("memeval-cache"))
    yield


@pytest.fixture(scope="session")
def llm_server():
    """One real embedded llama.cpp server (SmolLM2-135M) for the whole test session."""
    from memeval.server import EmbeddedServer

    with EmbeddedServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def llm_spec(llm_server) -> str:
    return f"{llm_server.url}::{llm_server.endpoint().model}"
