"""The business core of aimpay: entities and value objects in plain Python (stdlib only)."""
