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
