"""Threads' state moves to LangGraph checkpoints (the `checkpoints` app).

Each thread's conversation (the values of its latest old checkpoint) becomes
the first LangGraph checkpoint of the thread, as a state update of the graph
its last run used (`agent`, or the optional `openai`: the built-in graphs
old threads could use, with the same state shape), so conversations survive
the upgrade; their older history does not. Then the old table goes.
"""

from django.db import migrations, models

OLD_AI_KEYS = ("invalid_tool_calls", "usage_metadata", "example")


def to_langgraph(apps, schema_editor):
    from langchain_core.messages import convert_to_messages
    from langgraph.checkpoint.base import empty_checkpoint

    from checkpoints.saver import DjangoCheckpointSaver

    Thread = apps.get_model("runs", "Thread")
    Checkpoint = apps.get_model("runs", "Checkpoint")
    Run = apps.get_model("runs", "Run")
    saver = DjangoCheckpointSaver(using=schema_editor.connection.alias)
    for thread in Thread.objects.all().iterator():
        latest = Checkpoint.objects.filter(thread=thread).order_by("-id").first()
        messages = list((latest.values if latest else {}).get("messages") or [])
        last_run = Run.objects.filter(thread=thread).order_by("-seq").first()
        graph_id = (last_run.kwargs or {}).get("graph_id") if last_run else None
        thread.metadata = {**(thread.metadata or {}), "graph_id": graph_id or "agent"}
        thread.values = {"messages": messages}
        thread.save(update_fields=["metadata", "values"])
        if not messages:
            continue
        cleaned = [{k: v for k, v in m.items() if k not in OLD_AI_KEYS} for m in messages]
        checkpoint = empty_checkpoint()
        version = saver.get_next_version(None, None)
        checkpoint["channel_values"] = {"messages": convert_to_messages(cleaned)}
        checkpoint["channel_versions"] = {"messages": version}
        config = {"configurable": {"thread_id": str(thread.pk), "checkpoint_ns": ""}}
        metadata = {"source": "update", "step": 0, "parents": {}, "migrated": True}
        saver.put(config, checkpoint, metadata, {"messages": version})


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0003_thread_owner_required_userapikey"),
        ("checkpoints", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="thread",
            name="values",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="thread",
            name="interrupts",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="run",
            name="attempt",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(to_langgraph, migrations.RunPython.noop),
        migrations.DeleteModel(name="Checkpoint"),
    ]
