class DomainError(Exception):
    """A business rule was broken; the message is safe to show to an operator."""


class InvalidValue(DomainError, ValueError):
    """A value object was given a value it cannot hold."""
