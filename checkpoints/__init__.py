"""A LangGraph checkpointer on Django models (`checkpoints.saver.DjangoCheckpointSaver`)."""
