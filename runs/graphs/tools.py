"""The tool every built-in graph offers: `get_weather`, answered with canned data.

The data is canned so that runs are reproducible offline and the demo and
OpenAI-compatible graphs answer the same thing.
"""

import json

from langchain_core.tools import tool

WEATHER = {"temperature_c": 21, "condition": "sunny", "wind_kph": 12, "humidity": 0.55}


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return json.dumps({"city": city, **WEATHER})
