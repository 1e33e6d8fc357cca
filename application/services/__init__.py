"""Pieces of application logic that more than one use case needs."""
