class ApplicationError(Exception):
    """A request that the use case refuses; the entrypoint turns it into a reply."""


class CustomerNotRegistered(ApplicationError):
    """The Telegram user never pressed /start."""


class CustomerBlacklisted(ApplicationError):
    """The user is on the blacklist: no answers, no purchases."""
