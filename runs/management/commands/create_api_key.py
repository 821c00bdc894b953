"""Create an API key for a user and print it (it is shown only this once)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from runs.models import UserAPIKey


class Command(BaseCommand):
    help = "Create an API key for a user (langgraph-sdk: get_client(api_key=...)) and print it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the key (50 characters).")

    def handle(self, *args, username, name, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        _, key = UserAPIKey.objects.create_key(user=user, name=name[:50])
        self.stdout.write(key)
