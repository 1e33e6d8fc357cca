"""Loopback stand-ins of the external APIs (YooKassa, Resend, Telegram Bot API), written from
their public documentation, for driving the real client libraries in tests."""
