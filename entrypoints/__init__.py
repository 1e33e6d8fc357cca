"""Entrypoints: the Telegram bot, the HTTP app, the CLI; the dishka container is the composition root."""
