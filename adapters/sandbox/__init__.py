"""The sandbox: the real bot in real Telegram before the school has a YooKassa shop, a Resend
account or a course chat. Payments live in this process's memory and are paid with a button in
the bot (``SandboxPaymentGateway``), emails are written to the log (``LogEmailSender``), and
invite links lead to a page that says what would happen (``SandboxCourseAccess``). No money
moves."""

from adapters.sandbox.course import COURSE_PREFIX, SandboxCourseAccess, SandboxInvite
from adapters.sandbox.email import LogEmailSender
from adapters.sandbox.payments import PAY_PREFIX, SandboxPaymentGateway

__all__ = [
    "COURSE_PREFIX",
    "PAY_PREFIX",
    "LogEmailSender",
    "SandboxCourseAccess",
    "SandboxInvite",
    "SandboxPaymentGateway",
]
