"""The chat page. Everything on it talks to the REST API (thread list, new
thread) and to the thread's websocket (messages, strategies, streaming)."""

from django.conf import settings
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from runs.models import MultitaskStrategy


class ChatView(TemplateView):
    template_name = "runs/chat.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["strategies"] = MultitaskStrategy.values
        context["max_chars"] = settings.RUNS_MAX_MESSAGE_CHARS
        return context


chat = ensure_csrf_cookie(ChatView.as_view())
