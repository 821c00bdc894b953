from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    verbose_name = "LangGraph store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # SQLite evaluates search filters with a Python function of each connection.
        from store import filters

        filters.register_sqlite_function()
