"""Threads get `state_updated_at` and `error` (LangGraph Platform's thread
fields), and an index per sort of POST /threads/search.

Existing threads: their state last changed when they were last updated (the
best the old rows tell), and a thread in `error` gets its last run's error.
"""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def fill(apps, schema_editor):
    Thread = apps.get_model("runs", "Thread")
    Run = apps.get_model("runs", "Run")
    Thread.objects.update(state_updated_at=F("updated_at"))
    for thread in Thread.objects.filter(status="error").iterator():
        last = Run.objects.filter(thread=thread).order_by("-seq").first()
        if last is not None and last.error:
            Thread.objects.filter(pk=thread.pk).update(error=last.error)


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0005_run_not_before_thread_expires_at'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='thread',
            name='thread_owner_updated_idx',
        ),
        migrations.AddField(
            model_name='thread',
            name='error',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='thread',
            name='state_updated_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['owner', 'updated_at', 'id'], name='thread_owner_updated_idx'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['owner', 'created_at', 'id'], name='thread_owner_created_idx'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['owner', 'state_updated_at', 'id'], name='thread_owner_state_upd_idx'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['owner', 'status', 'id'], name='thread_owner_status_idx'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['owner', 'id'], name='thread_owner_id_idx'),
        ),
    ]
