"""What aimpay says to people, in Russian (the default) and English. Plain text, no markup:
values (names, titles) are inserted as they are, so nothing a user types is ever interpreted."""

from __future__ import annotations

import html
import re

from domain.customer import Customer, Language

_TEXTS: dict[str, dict[Language, str]] = {
    "welcome": {
        Language.RU: "Здравствуйте, {name}! Это бот курса «{title}».\nСтоимость: {price} ₽.\n\nВыберите действие в меню.",
        Language.EN: "Hello, {name}! This is the bot of the course “{title}”.\nPrice: {price} RUB.\n\nChoose an action in the menu.",
    },
    "button.buy": {Language.RU: "Купить курс", Language.EN: "Buy the course"},
    "button.ref": {Language.RU: "Моя реферальная ссылка", Language.EN: "My referral link"},
    "button.help": {Language.RU: "Помощь", Language.EN: "Help"},
    "button.pay": {Language.RU: "Оплатить {price} ₽", Language.EN: "Pay {price} RUB"},
    "button.join": {Language.RU: "Вступить в чат курса", Language.EN: "Join the course chat"},
    "help": {
        Language.RU: (
            "/buy — купить курс «{title}»\n/ref — ваша реферальная ссылка и баланс\n/help — эта справка\n\n"
            "Приглашайте друзей по своей ссылке: вы получите {percent} от каждой их оплаты."
        ),
        Language.EN: (
            "/buy — buy the course “{title}”\n/ref — your referral link and balance\n/help — this help\n\n"
            "Invite friends with your link: you earn {percent} of every payment they make."
        ),
    },
    "ask_email": {
        Language.RU: "Введите email: на него придёт чек и копия ссылки на курс. /cancel — отменить.",
        Language.EN: "Enter your email: the receipt and a copy of the course link go there. /cancel to stop.",
    },
    "bad_email": {
        Language.RU: "Это не похоже на email. Введите адрес вида name@example.com или /cancel.",
        Language.EN: "That does not look like an email. Enter an address like name@example.com or /cancel.",
    },
    "cancelled": {Language.RU: "Отменено.", Language.EN: "Cancelled."},
    "checkout": {
        Language.RU: "Курс «{title}», {price} ₽. Нажмите кнопку, чтобы оплатить. После оплаты ссылка на курс придёт сюда и на {email}.",
        Language.EN: "Course “{title}”, {price} RUB. Press the button to pay. After payment the course link comes here and to {email}.",
    },
    "checkout_reused": {
        Language.RU: "У вас уже есть неоплаченный счёт (чек и ссылка придут на {email}). Оплатите его по кнопке ниже — новый не создаётся.",
        Language.EN: "You already have an unpaid invoice (the receipt and link go to {email}). Pay it with the button below; no new one is created.",
    },
    "already_in_course": {
        Language.RU: "Вы уже оплатили курс и состоите в его чате. Повторно платить не нужно.",
        Language.EN: "You have already paid and are in the course chat. There is nothing more to pay.",
    },
    "access_reissued": {
        Language.RU: "Вы уже оплатили курс. Вот новая одноразовая ссылка в чат курса (старая больше не действует):\n{link}",
        Language.EN: "You have already paid. Here is a new one-time link to the course chat (the old one no longer works):\n{link}",
    },
    "payment_confirmed": {
        Language.RU: "Ваша оплата прошла. Ссылка на курс уже отправляется вам.",
        Language.EN: "Your payment went through. The course link is on its way.",
    },
    "payment_unavailable": {
        Language.RU: "Платёжный сервис сейчас недоступен. Попробуйте ещё раз через несколько минут.",
        Language.EN: "The payment service is unavailable right now. Please try again in a few minutes.",
    },
    "not_registered": {Language.RU: "Сначала нажмите /start.", Language.EN: "Press /start first."},
    "ref_summary": {
        Language.RU: (
            "Ваша реферальная ссылка:\n{link}\n\nПерешли по ней: {joined}\nОплатили: {paid}\n"
            "Баланс: {balance} ₽\n\nВы получаете {percent} от каждой оплаты приглашённых."
        ),
        Language.EN: (
            "Your referral link:\n{link}\n\nJoined by it: {joined}\nPaid: {paid}\n"
            "Balance: {balance} RUB\n\nYou earn {percent} of every payment of the people you invite."
        ),
    },
    "throttled": {
        Language.RU: "Слишком много сообщений. Подождите немного.",
        Language.EN: "Too many messages. Please slow down.",
    },
    "error": {
        Language.RU: "Что-то пошло не так. Попробуйте ещё раз позже.",
        Language.EN: "Something went wrong. Please try again later.",
    },
    "unknown": {
        Language.RU: "Не понимаю. Команды: /buy, /ref, /help.",
        Language.EN: "I don't understand. Commands: /buy, /ref, /help.",
    },
    "ban.usage": {
        Language.RU: "Использование: /{command} <telegram id>",
        Language.EN: "Usage: /{command} <telegram id>",
    },
    "ban.done": {Language.RU: "Пользователь {id} заблокирован.", Language.EN: "User {id} is banned."},
    "ban.already": {Language.RU: "Пользователь {id} уже заблокирован.", Language.EN: "User {id} is already banned."},
    "ban.kick_failed": {
        Language.RU: "Пользователь {id} заблокирован, но удалить его из чата курса не удалось: {error}",
        Language.EN: "User {id} is banned, but removing them from the course chat failed: {error}",
    },
    "ban.admin": {
        Language.RU: "Пользователь {id} — администратор магазина, его нельзя заблокировать.",
        Language.EN: "User {id} is an admin of the shop and cannot be banned.",
    },
    "unban.done": {Language.RU: "Пользователь {id} разблокирован.", Language.EN: "User {id} is unbanned."},
    "unban.absent": {Language.RU: "Пользователь {id} не был заблокирован.", Language.EN: "User {id} was not banned."},
    # Sent through the outbox.
    "access.telegram": {
        Language.RU: "Оплата получена, спасибо! Ваша личная одноразовая ссылка в чат курса «{title}»:\n{link}\nОна действует до {expires} (UTC).",
        Language.EN: "Payment received, thank you! Your personal one-time link to the chat of “{title}”:\n{link}\nIt works until {expires} (UTC).",
    },
    "access.email.subject": {
        Language.RU: "Доступ к курсу «{title}»",
        Language.EN: "Your access to “{title}”",
    },
    "access.email.text": {
        Language.RU: "Здравствуйте!\n\nОплата курса «{title}» получена. Ваша личная одноразовая ссылка в чат курса:\n{link}\n\nОна действует до {expires} (UTC). Если срок истёк, нажмите /buy в боте — придёт новая.",
        Language.EN: "Hello!\n\nYour payment for “{title}” is received. Your personal one-time link to the course chat:\n{link}\n\nIt works until {expires} (UTC). If it has expired, press /buy in the bot for a new one.",
    },
    "referrer.credited": {
        Language.RU: "По вашей ссылке оплатили курс. Начислено {amount} ₽, ваш баланс: {balance} ₽.",
        Language.EN: "Someone you invited paid for the course. Credited {amount} RUB; your balance: {balance} RUB.",
    },
    "admin.sale": {
        Language.RU: "Новая оплата: {buyer} (id {telegram_id}), {amount} ₽. Реферер: {referrer}.",
        Language.EN: "New sale: {buyer} (id {telegram_id}), {amount} RUB. Referrer: {referrer}.",
    },
    "admin.duplicate_payment": {
        Language.RU: (
            "Повторная оплата: {buyer} (id {telegram_id}) уже купил курс и заплатил ещё раз, {amount} ₽, "
            "платёж {payment_id}. Доступ повторно не выдан. Верните деньги в личном кабинете ЮKassa."
        ),
        Language.EN: (
            "Duplicate payment: {buyer} (id {telegram_id}) already owns the course and paid again, {amount} RUB, "
            "payment {payment_id}. No second access was granted. Refund it in the YooKassa dashboard."
        ),
    },
    "admin.link_shared": {
        Language.RU: (
            "Чужой вход в чат курса: пользователь {telegram_id} вошёл по ссылке покупателя {owner} (id {owner_id}), "
            "сам курс не оплатил (или заблокирован). Он удалён из чата, ссылка отозвана."
        ),
        Language.EN: (
            "Someone else joined the course chat: user {telegram_id} used the link of buyer {owner} (id {owner_id}) "
            "and has not paid (or is banned). They were removed from the chat and the link was revoked."
        ),
    },
    "admin.payment_mismatch": {
        Language.RU: (
            "Платёж {payment_id} не совпадает с покупкой {purchase_id}: получено {amount}, ожидалось {price}. "
            "Доступ не выдан, новые платежи этого покупателя остановлены. Проверьте платёж в ЮKassa."
        ),
        Language.EN: (
            "Payment {payment_id} does not match purchase {purchase_id}: {amount} received, {price} expected. "
            "No access was given and this buyer's new payments are on hold. Check the payment in YooKassa."
        ),
    },
    "payment.canceled": {
        Language.RU: "Оплата не прошла. Попробуйте ещё раз: /buy",
        Language.EN: "The payment did not go through. You can try again: /buy",
    },
}


def text(language: Language, key: str, **values: object) -> str:
    """The text ``key`` in ``language`` with ``values`` filled in."""
    return _TEXTS[key][language].format(**values)


def customer_name(customer: Customer) -> str:
    """How a customer is named to the shop's admins: first name and @username."""
    return customer.first_name + (f" @{customer.username}" if customer.username else "")


def keys() -> frozenset[str]:
    return frozenset(_TEXTS)


_URL = re.compile(r"(https?://[^\s<]+)")


def as_html(plain: str) -> str:
    """A plain text as simple HTML for email: escaped, paragraphs kept, links clickable."""
    paragraphs = (html.escape(p).replace("\n", "<br>") for p in plain.split("\n\n"))
    linked = (_URL.sub(r'<a href="\1">\1</a>', p) for p in paragraphs)
    return "".join(f"<p>{p}</p>" for p in linked)
