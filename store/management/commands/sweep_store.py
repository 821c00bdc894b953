"""Delete every user's expired store items.

Expired items are invisible from the moment they expire, and a user's next
write deletes that user's; this deletes the items of users who never write
again. Run it from cron (or any scheduler) as often as you like, e.g. hourly.
"""

from django.core.management.base import BaseCommand

from store.backend import sweep_expired


class Command(BaseCommand):
    help = "Delete the store items whose TTL has run out (every user's)."

    def handle(self, *args, **options):
        self.stdout.write(f"{sweep_expired()} expired store items deleted")
