from uuid import UUID

import pytest

from domain.customer import Language
from domain.email import Email
from domain.errors import DomainError, InvalidValue
from domain.ids import AccessGrantId, CustomerId, LedgerEntryId, OutboxMessageId, PurchaseId, ReferralCode, TelegramId

U = UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize("cls", [CustomerId, PurchaseId, LedgerEntryId, AccessGrantId, OutboxMessageId])
def test_typed_id_parse_round_trips(cls: type) -> None:
    parsed = cls.parse(str(U))
    assert parsed == cls(U)
    assert parsed.value == U
    assert str(parsed) == str(U)
    assert cls.parse(str(U).upper()) == parsed


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "12345678-1234-5678-1234-56781234567", None, 42])
def test_typed_id_parse_refuses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        PurchaseId.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [str(U), 1, None, CustomerId(U)])
def test_typed_id_holds_only_a_uuid(bad: object) -> None:
    with pytest.raises(InvalidValue):
        PurchaseId(bad)  # type: ignore[arg-type]


def test_ids_of_different_kinds_are_never_equal() -> None:
    assert PurchaseId(U) != CustomerId(U)
    assert CustomerId(U) != PurchaseId(U)
    assert {PurchaseId(U): 1}.get(CustomerId(U)) is None  # type: ignore[call-overload]
    assert PurchaseId(U) == PurchaseId(UUID(str(U)))


def test_ids_are_immutable() -> None:
    pid = PurchaseId(U)
    with pytest.raises(AttributeError):
        pid.value = UUID(int=1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "value"), [("1", 1), ("123456789", 123_456_789), (" 42 ", 42), (str(2**52 - 1), 2**52 - 1)]
)
def test_telegram_id_parse(text: str, value: int) -> None:
    assert TelegramId.parse(text) == TelegramId(value)
    assert str(TelegramId(value)) == str(value)


@pytest.mark.parametrize("bad", ["", "0", "-5", "+5", "1.0", "abc", "1 2", str(2**52), "٤٢", "²", None, 42])
def test_telegram_id_parse_refuses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        TelegramId.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, 2**52, True, 1.0, "5", None])
def test_telegram_id_refuses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        TelegramId(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("good", ["abcdef", "ref0000001", "A-b_C-9", "x" * 32])
def test_referral_code_accepts(good: str) -> None:
    assert str(ReferralCode(good)) == good


@pytest.mark.parametrize(
    "bad", ["", "abcde", "x" * 33, "abc def", "abcdef\n", "abc+def", "абвгде", "abc/def", None, 123456]
)
def test_referral_code_refuses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        ReferralCode(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("buyer@example.com", "buyer@example.com"),
        ("First.Last@Example.COM", "First.Last@example.com"),
        ("user+tag@mail.example.co.uk", "user+tag@mail.example.co.uk"),
        ("  spaced@example.org  ", "spaced@example.org"),
        ("a_b-c@sub-domain.example.ru", "a_b-c@sub-domain.example.ru"),
        ("x@y.io", "x@y.io"),
        ("o'neil@example.com", "o'neil@example.com"),
        ("D'Arcy.O'Brien@Example.IE", "D'Arcy.O'Brien@example.ie"),
    ],
)
def test_email_accepts_common_forms_and_lowercases_the_domain(text: str, stored: str) -> None:
    email = Email.parse(text)
    assert email.value == stored
    assert str(email) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plain",
        "@example.com",
        "user@",
        "user@localhost",
        "user@example",
        "user@example.c",
        "user@@example.com",
        "us er@example.com",
        "user@exa mple.com",
        "user@-example.com",
        "user@example-.com",
        "user@example..com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        '"quoted"@example.com',
        "user@example.com\n",
        "user@example.com\nBcc: x@example.com",
        "a" * 65 + "@example.com",
        "u@" + "a" * 250 + ".com",
        "user@exam_ple.com",
        "user@example.123",
        None,
        5,
        "o'neil@exam'ple.com",
        "o neil@example.com",
        'o"neil@example.com',
        "<o'neil@example.com>",
        "o'neil<x>@example.com",
        "o'neil@example.com>",
        "o'neil\n@example.com",
        "o'neil@example.com\r\n",
    ],
)
def test_email_refuses_bad_addresses(bad: object) -> None:
    with pytest.raises(InvalidValue):
        Email(bad)  # type: ignore[arg-type]


def test_email_parse_strips_but_constructor_does_not() -> None:
    assert Email.parse(" a@example.com ") == Email("a@example.com")
    with pytest.raises(InvalidValue):
        Email(" a@example.com ")


def test_invalid_value_is_a_domain_error_and_a_value_error() -> None:
    assert issubclass(InvalidValue, DomainError) and issubclass(InvalidValue, ValueError)


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("en", Language.EN),
        ("EN", Language.EN),
        ("en-US", Language.EN),
        ("en-gb", Language.EN),
        ("ru", Language.RU),
        ("uk", Language.RU),
        ("de", Language.RU),
        ("", Language.RU),
        (None, Language.RU),
        ("eng", Language.RU),
    ],
)
def test_language_from_telegram(code: str | None, language: Language) -> None:
    assert Language.from_telegram(code) is language
