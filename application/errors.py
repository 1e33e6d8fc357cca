class ApplicationError(Exception):
    """A request that the use case refuses; the entrypoint turns it into a reply."""


class CustomerNotRegistered(ApplicationError):
    """The Telegram user never pressed /start."""


class CustomerBlacklisted(ApplicationError):
    """The access policy shuts this person out: no answers, no purchases."""


class NotAuthorized(ApplicationError):
    """The actor may not do this (an admin action asked for by somebody who is not an admin)."""
