# Threads belong to a user: ownerless threads (made before accounts existed,
# in the anonymous demo) go to the local demo user; 0003 then requires an owner.
# (Two migrations: PostgreSQL refuses ALTER TABLE after an UPDATE with
# deferred foreign-key checks pending in the same transaction.)

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations

LOCAL_DEMO_USERNAME = "local-demo"  # runs.access.LOCAL_DEMO_USERNAME


def give_ownerless_threads_to_the_demo_user(apps, schema_editor):
    Thread = apps.get_model("runs", "Thread")
    ownerless = Thread.objects.filter(owner=None)
    if not ownerless.exists():
        return
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    user, _ = User.objects.get_or_create(
        username=LOCAL_DEMO_USERNAME, defaults={"password": make_password(None)}
    )
    ownerless.update(owner=user)


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(give_ownerless_threads_to_the_demo_user, migrations.RunPython.noop),
    ]
