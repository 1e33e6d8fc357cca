"""Resend: the email sender."""

from adapters.resend.sender import ResendEmailSender

__all__ = ["ResendEmailSender"]
