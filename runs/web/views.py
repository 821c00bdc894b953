"""The chat page. Everything on it talks to the REST API (thread list, new
thread) and to the thread's websocket (messages, strategies, streaming).

It needs a signed-in user, or the local demo (runs.services.accounts) for a browser on
this machine; anyone else goes to the login page.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from runs.models import MultitaskStrategy
from runs.services import accounts


class ChatView(TemplateView):
    template_name = "runs/chat.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            if accounts.demo_user_for(request.META.get("REMOTE_ADDR")) is None:
                return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["strategies"] = MultitaskStrategy.values
        context["max_chars"] = settings.RUNS_MAX_MESSAGE_CHARS
        context["local_demo"] = not self.request.user.is_authenticated
        return context


chat = ensure_csrf_cookie(ChatView.as_view())


class PlaygroundView(ChatView):
    """The strategy playground: one first message and one double-text sent to four
    fresh threads, one per strategy, with the same timing, side by side. Same access
    as the chat (ChatView.dispatch); the page talks to the same API and websocket."""

    template_name = "runs/playground.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Columns in the order a person reads them: from "nothing changes" to "erased".
        context["strategies"] = [
            (MultitaskStrategy.REJECT, "The new message is refused (409); the answer goes on."),
            (MultitaskStrategy.ENQUEUE, "The new message waits; both are answered, in order."),
            (MultitaskStrategy.INTERRUPT, "The answer stops; its partial text is kept."),
            (MultitaskStrategy.ROLLBACK, "The first exchange is erased; only the new one stays."),
        ]
        context["max_chars"] = settings.RUNS_MAX_MESSAGE_CHARS
        return context


playground = ensure_csrf_cookie(PlaygroundView.as_view())
