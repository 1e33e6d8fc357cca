"""The playground of ``aimpay demo``: a Telegram-like chat in the browser, talking to the real
bot offline, with side panels showing what left the system (emails, admin notes, invite links,
the referral ledger, the outbox). ``routes.playground_routes`` serves it; ``world.Playground``
drives the bot."""
