"""Checking and normalising the messages clients send."""

import pytest

from runs.services import chat_messages as msgs


def test_role_form_is_normalised_to_langchain_form():
    values = msgs.normalise_input({"messages": [{"role": "user", "content": "hi"}]})
    (message,) = values["messages"]
    assert message["type"] == "human"
    assert message["content"] == "hi"
    assert message["id"]


def test_langchain_core_reads_our_messages():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage, convert_to_messages

    values = msgs.normalise_input(
        {
            "messages": [
                "q",
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"name": "get_weather", "args": {}, "id": "c1"}],
                },
                {"role": "tool", "content": "{}", "tool_call_id": "c1", "name": "get_weather"},
                {"type": "ai", "content": "partial", "response_metadata": {"interrupted": True}},
            ]
        }
    )
    converted = convert_to_messages(values["messages"])
    assert [type(m) for m in converted] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert converted[1].tool_calls[0]["name"] == "get_weather"
    assert converted[3].response_metadata["interrupted"] is True
    assert [m.id for m in converted] == [m["id"] for m in values["messages"]]
    assert msgs.is_interrupted(values["messages"][3])


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "input"),
        ({"messages": 3}, "input.messages"),
        ({"messages": [{"type": "wizard", "content": "x"}]}, "input.messages[0].type"),
        ({"messages": [{"role": "user", "content": 5}]}, "input.messages[0].content"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "input.messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": "x" * 100_000}]}, "input.messages[0].content"),
    ],
)
def test_bad_input_names_the_field(raw, field):
    with pytest.raises(msgs.MessageError) as raised:
        msgs.normalise_input(raw)
    assert raised.value.field == field
