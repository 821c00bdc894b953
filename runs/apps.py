from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Threads and runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the OpenAPI description of our authentication classes.
        from runs.api import schema  # noqa: F401

        # Registers the SQLite function JSON filters use on each new connection.
        from runs.services import json_match  # noqa: F401

        self.forget_verified_keys_on_changes()

    def forget_verified_keys_on_changes(self):
        """A revoked key, a deactivated user: no longer served from the cache
        of verified API keys (runs/services/accounts.py)."""
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from runs.models import UserAPIKey
        from runs.services.accounts import forget_verified_api_keys

        for model in (UserAPIKey, get_user_model()):
            post_save.connect(forget_verified_api_keys, sender=model, dispatch_uid=f"keys-{model}")
            post_delete.connect(
                forget_verified_api_keys, sender=model, dispatch_uid=f"keys-del-{model}"
            )
