"""Registry: lazy names, 'did you mean', options, and third-party entry points."""

import sys
import textwrap

import pytest

from memeval import registry
from memeval.errors import UserError


def test_parse_spec_coerces_options():
    assert registry.parse_spec("rag-bm25:k=20,chunk=2,flag=true,name=x") == (
        "rag-bm25", {"k": 20, "chunk": 2, "flag": True, "name": "x"})
    assert registry.parse_spec("no-memory") == ("no-memory", {})
    with pytest.raises(UserError, match="key=value"):
        registry.parse_spec("rag-bm25:k")


def test_unknown_system_names_the_nearest_valid_ones():
    with pytest.raises(UserError) as e:
        registry.resolve("system", "rag-bm5")
    assert "did you mean 'rag-bm25'" in str(e.value)
    with pytest.raises(UserError, match="unknown task 'locomoo'; did you mean 'locomo'"):
        registry.resolve("task", "locomoo")


def test_resolution_is_lazy_and_returns_the_class():
    cls = registry.resolve("system", "rag-bm25")
    assert cls.__name__ == "BM25Memory" and cls.name == "rag-bm25"


def test_entry_point_plugins_are_found(tmp_path, monkeypatch):
    """An outside package registers a system through the `memeval.systems` entry-point group."""
    pkg = tmp_path / "myplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        class Echo:
            name = "echo"
            version = "0"
    """))
    dist = tmp_path / "myplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[memeval.systems]\necho = myplug:Echo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "echo" in registry.names("system")
    assert registry.resolve("system", "echo").name == "echo"
    sys.modules.pop("myplug", None)
