"""Tests of the Telegram adapters and the bot, against the loopback Bot API stand-in."""
