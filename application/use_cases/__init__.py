"""One use case per module: a class with one public method, ``__call__``."""
