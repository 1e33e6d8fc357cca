"""Implementations of the application's ports: SQL, YooKassa, Resend, Telegram, and in-memory fakes."""
