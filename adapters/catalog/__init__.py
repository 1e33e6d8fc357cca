"""The message catalog: everything aimpay says, as gettext .po files (one per language) under
``locales/<lang>/LC_MESSAGES/aimpay.po``, and the helper that turns a plain text into email HTML."""

from adapters.catalog.catalog import CatalogError, MessageCatalog
from adapters.catalog.html import as_html

__all__ = ["CatalogError", "MessageCatalog", "as_html"]
