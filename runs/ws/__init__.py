"""The chat websocket: the consumer (`consumer`), its frames (`frames`) and
its route (`routing`)."""
