"""Fast checks of the pieces the real-library adapters share (no LLM, no library import)."""

import json

import pytest

from memeval.adapters.memory.llm_seam import require_all, strict_json
from memeval.adapters.memory.notes import memory_diff, parse_when, slug


def test_session_dates_of_both_packs_parse():
    assert parse_when("1:56 pm on 8 May, 2023").strftime("%Y%m%d%H%M") == "202305081356"
    assert parse_when("Feb 13, 2029, 10:51:39").strftime("%Y%m%d%H%M") == "202902131051"
    assert parse_when("2024-01-02T03:04:00").hour == 3
    assert parse_when("someday") is None and parse_when(None) is None


def test_require_all_marks_every_property_required_recursively():
    schema = {"type": "object", "properties": {
        "keywords": {"type": "array", "items": {"type": "string"}},
        "nested": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    out = require_all(schema)
    assert out["required"] == ["keywords", "nested"] and out["additionalProperties"] is False
    assert out["properties"]["nested"]["required"] == ["a"]
    assert "required" not in schema  # the library's own dict is left alone


def test_diff_names_adds_updates_and_deletes():
    before = {"a": {"tags": ["x"]}, "b": {"tags": []}, "c": {"tags": []}}
    after = {"a": {"tags": ["y"]}, "b": {"tags": []}, "d": {"tags": []}}
    assert sorted(memory_diff(before, after, ("tags",))) == [
        ("ADD", "d"), ("DELETE", "c"), ("UPDATE", "a")]


def test_slug_is_label_safe_and_keeps_names_apart():
    a, b = slug("conv-26/Caroline"), slug("conv-26.Caroline")
    assert a != b and "." not in a + b and "/" not in a + b


def test_strict_json_is_what_the_libraries_parse():
    assert strict_json('{"a": 1}') == {"a": 1}
    assert strict_json('text {"a": 1}') is None  # memeval's client would salvage it; json.loads not
    assert strict_json(json.dumps([1])) == [1]


def test_langmem_tool_schema_hoists_defs_to_the_root():
    pytest.importorskip("langmem")
    from memeval.adapters.memory.langmem import calls_schema

    tools = [{"type": "function", "function": {"name": "PatchDoc", "parameters": {
        "type": "object", "properties": {"patches": {"type": "array",
                                                     "items": {"$ref": "#/$defs/JsonPatch"}}},
        "$defs": {"JsonPatch": {"type": "object"}}}}},
             {"type": "function", "function": {"name": "Memory", "parameters": {
                 "type": "object", "properties": {"content": {"type": "string"}}}}}]
    s = calls_schema(tools, 3)
    assert s["$defs"] == {"JsonPatch": {"type": "object"}}
    arr = s["properties"]["tool_calls"]
    assert arr["maxItems"] == 3 and arr["minItems"] == 1
    names = [o["properties"]["name"]["enum"] for o in arr["items"]["anyOf"]]
    assert names == [["PatchDoc"], ["Memory"]]
    assert "$defs" not in arr["items"]["anyOf"][0]["properties"]["arguments"]
