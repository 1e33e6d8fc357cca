"""Who may act: the one access policy every use case asks.

A person's ``Standing`` is what we know of them that matters here: whether they are one of the
shop's admins and whether they are on the blacklist. Admins are exempt from the blacklist
everywhere (they can never be shut out of their own shop), and only admins administer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from domain.ids import TelegramId


@dataclass(frozen=True, slots=True)
class Standing:
    telegram_id: TelegramId
    admin: bool
    blacklisted: bool

    @property
    def in_good_standing(self) -> bool:
        """Not shut out: an admin, or anybody off the blacklist."""
        return self.admin or not self.blacklisted


class JoinVerdict(enum.StrEnum):
    """What to do about somebody who joined the course chat by one of our one-time links."""

    OWNER = "owner"  # the buyer used their own link
    ADMIN = "admin"  # an admin of the shop: never removed
    OTHER_PAID_CUSTOMER = "other_paid_customer"  # passed on, but to somebody who paid too
    STRANGER = "stranger"  # passed on to somebody unpaid or blacklisted: remove them


class AccessPolicy:
    def __init__(self, admin_ids: Iterable[TelegramId]) -> None:
        self._admins = frozenset(admin_ids)

    @property
    def admin_ids(self) -> tuple[TelegramId, ...]:
        return tuple(sorted(self._admins, key=lambda i: i.value))

    def is_admin(self, telegram_id: TelegramId) -> bool:
        return telegram_id in self._admins

    def standing(self, telegram_id: TelegramId, *, blacklisted: bool) -> Standing:
        return Standing(telegram_id, admin=self.is_admin(telegram_id), blacklisted=blacklisted)

    # --- customers ------------------------------------------------------------------------------

    def may_use_bot(self, person: Standing) -> bool:
        """Whether the bot answers them at all."""
        return person.in_good_standing

    def may_buy(self, person: Standing) -> bool:
        return person.in_good_standing

    def may_receive_access(self, buyer: Standing) -> bool:
        """Whether a paying buyer is given (or keeps getting) links to the course chat."""
        return buyer.in_good_standing

    def may_refer(self, referrer: Standing) -> bool:
        """Whether new customers can be attributed to this referrer."""
        return referrer.in_good_standing

    def may_be_credited(self, referrer: Standing) -> bool:
        """Whether this referrer earns a commission on a sale they brought."""
        return referrer.in_good_standing

    def may_be_paid(self, referrer: Standing) -> bool:
        """Whether money may be paid out to this referrer."""
        return referrer.in_good_standing

    def course_join(self, joiner: Standing, *, owns_link: bool, has_paid: bool) -> JoinVerdict:
        if joiner.admin:
            return JoinVerdict.ADMIN
        if joiner.blacklisted:
            return JoinVerdict.STRANGER
        if owns_link:
            return JoinVerdict.OWNER
        if has_paid:
            return JoinVerdict.OTHER_PAID_CUSTOMER
        return JoinVerdict.STRANGER

    # --- admins ---------------------------------------------------------------------------------

    def may_administer(self, actor: Standing) -> bool:
        """Admin commands (ban, and later refunds, payouts, broadcasts) are for admins only."""
        return actor.admin

    def may_ban(self, actor: Standing, target: Standing) -> bool:
        """An admin may ban anybody but another admin."""
        return self.may_administer(actor) and not target.admin
