"""The chat page (templates/runs/chat.html, static/doubletext/)."""
