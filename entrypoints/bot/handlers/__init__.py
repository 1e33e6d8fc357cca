"""The bot's routers; each module's ``router()`` builds a fresh one (a Router joins one Dispatcher only)."""
