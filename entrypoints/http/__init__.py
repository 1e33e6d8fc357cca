"""The Starlette HTTP app: webhooks (YooKassa, Telegram) and health."""
