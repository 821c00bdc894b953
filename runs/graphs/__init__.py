"""What a run executes: LangGraph graphs.

`demo` holds the offline, deterministic graphs (`graph`, `hitl`); `openai`
builds the same graph on any OpenAI-compatible chat API (`make_graph`).
Both share the model ⇄ tools shape (`shape`) and the `get_weather` tool
(`tools`), so a client sees the same nodes and messages whichever it runs.
"""
