"""classifiers.pii: masking of phone numbers, ID numbers, bank cards and e-mail addresses.

Check digits are computed here from the published algorithms (GB 11643 for the resident
ID, Luhn for cards), independently of the code under test.
"""

from __future__ import annotations

import pytest

from classifiers.pii import TOKENS, id_card_valid, luhn_valid, mask_pii, redact

PHONE, ID, CARD, EMAIL = TOKENS["phone"], TOKENS["id_card"], TOKENS["bank_card"], TOKENS["email"]

GB11643_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, …


def id_check_char(first17: str) -> str:
    """GB 11643-1999: the check character makes sum(a_i * W_i) ≡ 1 (mod 11), a_18 = 10 is X."""
    total = sum(int(d) * w for d, w in zip(first17, GB11643_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(first17: str) -> str:
    return first17 + id_check_char(first17)


def luhn_sum(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 1 else 1)
        total += value // 10 + value % 10
    return total


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to ``partial``."""
    for check in "0123456789":
        if luhn_sum(partial + check) % 10 == 0:
            return partial + check
    raise AssertionError("unreachable: one check digit always fits")


def luhn_break(number: str) -> str:
    """Same number with a wrong last digit."""
    wrong = str((int(number[-1]) + 1) % 10)
    assert luhn_sum(number[:-1] + wrong) % 10 != 0
    return number[:-1] + wrong


# --- the helpers themselves, against well-known published examples ---------------------


def test_helpers_agree_with_published_examples() -> None:
    assert GB11643_WEIGHTS == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    # The example of GB 11643-1999 itself: 11010519491231002X.
    assert make_id("11010519491231002") == "11010519491231002X"
    # Classic Luhn examples: Visa test card and the Wikipedia example 7992739871(3).
    assert luhn_sum("4111111111111111") % 10 == 0
    assert luhn_complete("7992739871") == "79927398713"


VALID_ID = make_id("11010519900307123")  # Beijing 朝阳区, born 1990-03-07
VALID_ID_2 = make_id("44030620011231456")  # Shenzhen, born 2001-12-31
CARD_19 = luhn_complete("622202123456789012")  # UnionPay-style 19 digits
CARD_16 = luhn_complete("622848003012345")  # 16 digits
VISA = "4111111111111111"


def _id_with_x() -> str:
    for seq in range(1000):
        number = make_id(f"32010219850615{seq:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no X check character in 1000 sequence numbers")


ID_WITH_X = _id_with_x()


# --- checksums -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [VALID_ID, VALID_ID_2, ID_WITH_X, ID_WITH_X.lower(), "11010519491231002X"]
)
def test_id_card_valid_accepts_correct_checksums(number: str) -> None:
    assert id_card_valid(number)


def _wrong_id_check(number: str) -> str:
    right = number[17]
    wrong = "0" if right != "0" else "1"
    return number[:17] + wrong


@pytest.mark.parametrize(
    "number",
    [
        _wrong_id_check(VALID_ID),
        _wrong_id_check(ID_WITH_X),
        make_id("11010518990307123"),  # born 1899: checksum right, date implausible
        make_id("11010519901307123"),  # month 13
        make_id("11010519900300123"),  # day 00
        VALID_ID[:17],  # 17 characters
        "X" + VALID_ID[1:],  # letter inside the digits
    ],
)
def test_id_card_valid_rejects_bad_numbers(number: str) -> None:
    assert not id_card_valid(number)


@pytest.mark.parametrize("number", [CARD_19, CARD_16, VISA, "79927398713"])
def test_luhn_valid_accepts(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", [luhn_break(CARD_19), luhn_break(CARD_16), "79927398710"])
def test_luhn_valid_rejects(number: str) -> None:
    assert not luhn_valid(number)


# --- phones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "+86 13812345678",
        "+86-138-1234-5678",
        "+86 138 1234 5678",
        "008613812345678",
        "0086 13812345678",
        "0086-138-1234-5678",
        "19912345678",
        "15000000000",
    ],
)
def test_mobile_numbers_are_masked(phone: str) -> None:
    masked = mask_pii(f"我的电话{phone}，请回电")
    assert masked.text == f"我的电话{PHONE}，请回电"
    assert masked.kinds == ("phone",)


@pytest.mark.parametrize(
    "phone",
    [
        "010-62345678",
        "(021)62345678",
        "(021) 62345678",
        "0755-22345678",
        "02162345678",
        "010 62345678",
        "010-62345678-123",
        "0571-8765432",
    ],
)
def test_landline_numbers_are_masked(phone: str) -> None:
    masked = mask_pii(f"座机{phone}打不通")
    assert masked.text == f"座机{PHONE}打不通"
    assert masked.kinds == ("phone",)


def test_several_phones_in_one_text() -> None:
    masked = mask_pii("手机13812345678或者010-62345678都行")
    assert masked.text == f"手机{PHONE}或者{PHONE}都行"
    assert masked.kinds == ("phone", "phone")


@pytest.mark.parametrize(
    "text",
    [
        "12345678901",  # 11 digits but 12x is no mobile prefix
        "1381234567",  # 10 digits: one short
        "138123456789",  # 12 digits: one too many, and not a card either
        "11012345678",  # 110…: not a mobile prefix
    ],
)
def test_digit_runs_that_are_not_phones_stay(text: str) -> None:
    masked = mask_pii(f"编号{text}")
    assert masked.text == f"编号{text}"
    assert masked.kinds == ()


# --- resident ID numbers ---------------------------------------------------------------


@pytest.mark.parametrize("number", [VALID_ID, VALID_ID_2, ID_WITH_X, ID_WITH_X.lower()])
def test_valid_id_numbers_are_masked(number: str) -> None:
    masked = mask_pii(f"身份证号{number}，姓名张三")
    assert masked.text == f"身份证号{ID}，姓名张三"
    assert masked.kinds == ("id_card",)


def _wrong_checksum_id_that_is_no_card() -> str:
    # A wrong ID checksum must not be reported as an ID. Pick a wrong check digit that is
    # not Luhn-valid either, so that the number has no reason at all to be masked.
    for wrong in "0123456789":
        candidate = VALID_ID[:17] + wrong
        if candidate != VALID_ID and luhn_sum(candidate) % 10 != 0:
            return candidate
    raise AssertionError("unreachable")


def test_id_with_wrong_checksum_is_not_masked() -> None:
    number = _wrong_checksum_id_that_is_no_card()
    masked = mask_pii(f"身份证号{number}")
    assert "id_card" not in masked.kinds
    assert masked.text == f"身份证号{number}"


def test_id_glued_to_more_digits_is_not_an_id() -> None:
    # 19 digits whose first 18 are a valid ID: it is some other number, not an ID.
    number = VALID_ID + "7"
    masked = mask_pii(f"单号{number}")
    assert "id_card" not in masked.kinds
    assert ID not in masked.text


# --- bank cards ----------------------------------------------------------------------


def spaced(number: str, group: int = 4, sep: str = " ") -> str:
    return sep.join(number[i : i + group] for i in range(0, len(number), group))


@pytest.mark.parametrize(
    "card",
    [CARD_19, CARD_16, VISA, spaced(CARD_19), spaced(CARD_16), spaced(CARD_16, sep="-")],
)
def test_luhn_valid_card_numbers_are_masked(card: str) -> None:
    masked = mask_pii(f"银行卡{card}扣款失败")
    assert masked.text == f"银行卡{CARD}扣款失败"
    assert masked.kinds == ("bank_card",)


@pytest.mark.parametrize(
    "card", [luhn_break(CARD_16), spaced(luhn_break(CARD_16)), luhn_break(CARD_19)]
)
def test_luhn_invalid_card_numbers_stay(card: str) -> None:
    masked = mask_pii(f"卡号{card}")
    assert masked.text == f"卡号{card}"
    assert masked.kinds == ()


# --- e-mail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "zhang.san@example.com",
        "user123@qq.com",
        "li_si+vip@mail.company.com.cn",
        "13812345678@163.com",
    ],
)
def test_email_addresses_are_masked(email: str) -> None:
    masked = mask_pii(f"邮箱{email} 请回复")
    assert masked.text == f"邮箱{EMAIL} 请回复"
    # An e-mail whose local part is a phone number is one e-mail, not a phone.
    assert masked.kinds == ("email",)


def test_at_sign_without_domain_is_not_an_email() -> None:
    masked = mask_pii("@客服 你好，user@localhost")
    assert masked.text == "@客服 你好，user@localhost"
    assert masked.kinds == ()


# --- numbers that are never personal data ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我要打12315投诉",
        "也打了12345热线",
        "订单金额299.00元，运费12元",
        "实付1299元",
        "2024-05-01下单",
        "2024年05月01日",
        "20240501",
        "订单号583920",
        "预约10:30上门",
        "2024-05-01 10:30:00 签收",
        "等了45分钟",
        "邮编100101",
        "4K电视55寸",
    ],
)
def test_numbers_that_are_not_personal_data_stay(text: str) -> None:
    masked = mask_pii(text)
    assert masked.text == text
    assert masked.kinds == ()


def test_mixed_text_reports_kinds_in_masking_order() -> None:
    text = (
        f"我叫张三，身份证{VALID_ID}，手机138-1234-5678，邮箱zs@example.com，"
        f"卡号{spaced(CARD_16)}，订单583920金额299.00元，已打12315"
    )
    masked = mask_pii(text)
    assert masked.text == (
        f"我叫张三，身份证{ID}，手机{PHONE}，邮箱{EMAIL}，"
        f"卡号{CARD}，订单583920金额299.00元，已打12315"
    )
    # e-mails first, then IDs, mobiles, cards and landlines.
    assert masked.kinds == ("email", "id_card", "phone", "bank_card")


def test_masking_is_idempotent() -> None:
    once = mask_pii(f"电话13812345678 身份证{VALID_ID} 卡{CARD_16} a@b.cn").text
    again = mask_pii(once)
    assert again.text == once
    assert again.kinds == ()


def test_docstring_example() -> None:
    assert mask_pii("电话13812345678，投诉12315").text == f"电话{PHONE}，投诉12315"


# --- review of the masking rules (text-intelligence issue) -----------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "(+86)13812345678",
        "(+86) 138 1234 5678",
        "86-13812345678",
        "86 138 1234 5678",
        "+86-13812345678",
        "0086-13812345678",
    ],
)
def test_more_mobile_forms_are_masked(phone: str) -> None:
    masked = mask_pii(f"手机{phone}。")
    assert masked.text == f"手机{PHONE}。"
    assert masked.kinds == ("phone",)


@pytest.mark.parametrize(
    "phone",
    [
        "021-6234-5678",  # local number split 4-4
        "0755-2234 5678",
        "(010)6234-5678",
        "+86 10 6234 5678",  # international form: the area code loses its 0
        "0086-21-62345678",
        "+86(21)62345678",
        "010-62345678转123",  # extension, Chinese style
        "0571-87654321-8888",
        "021-62345678ext.12",
    ],
)
def test_more_landline_forms_are_masked(phone: str) -> None:
    masked = mask_pii(f"座机{phone}。")
    assert masked.text == f"座机{PHONE}。"
    assert masked.kinds == ("phone",)


def test_legacy_15_digit_id_is_masked_after_the_word_id_card() -> None:
    # 110105 (Beijing 朝阳区), born 1949-03-07, sequence 123: first-generation ID format.
    for label in (
        "身份证号110105490307123",
        "身份证号码是 110105490307123",
        "身份证:110105490307123",
        "身份证号：110105490307123",
        "证件号码110105490307123",
    ):
        masked = mask_pii(f"我的{label},请核实")
        assert masked.kinds == ("id_card",), label
        assert "110105490307123" not in masked.text
        assert masked.text.endswith(f"{ID},请核实")


@pytest.mark.parametrize(
    "text",
    [
        "订单110105490307123",  # no ID word: a 15-digit number is an order number
        "身份证号110105491307123",  # month 13
        "身份证号990105490307123",  # 99 is no province
        "身份证号1101054903071234",  # 16 digits
        "身份证没带,订单号110105490307123",  # the word is not right before the number
    ],
)
def test_15_digit_numbers_that_are_not_legacy_ids_stay(text: str) -> None:
    masked = mask_pii(text)
    assert masked.text == text
    assert masked.kinds == ()


def test_18_digit_id_needs_a_province_code() -> None:
    number = make_id("99010519900307123")  # right checksum and date, but no province 99
    assert not id_card_valid(number)
    assert "id_card" not in mask_pii(f"身份证{number}").kinds


AMEX = "378282246310005"  # American Express test number


@pytest.mark.parametrize(
    "card",
    [
        f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}",  # Amex 4-6-5
        f"{CARD_19[:6]} {CARD_19[6:]}",  # UnionPay 6-13
        luhn_complete("222100123456789"),  # Mastercard 2-series
        spaced(luhn_complete("356800123456789")),  # JCB
        luhn_complete("955880123456789012"),  # older domestic card
        spaced(luhn_complete("622202123456"), sep="-"),  # 13 digits, 4-4-4-1
    ],
)
def test_more_card_forms_are_masked(card: str) -> None:
    masked = mask_pii(f"卡号{card}被盗刷")
    assert masked.text == f"卡号{CARD}被盗刷"
    assert masked.kinds == ("bank_card",)


def _luhn_valid_date_pair() -> str:
    """Two dates separated by a space whose 16 digits pass Luhn (the masking before this
    review took such a pair for a card)."""
    for day in range(1, 29):
        text = f"2024-05-01 2024-05-{day:02d}"
        if luhn_sum(text.replace("-", "").replace(" ", "")) % 10 == 0:
            return text
    raise AssertionError("no Luhn-valid date pair in May")


@pytest.mark.parametrize(
    "text",
    [
        f"活动时间{_luhn_valid_date_pair()}",
        f"订单号{luhn_complete('202405011234567')}",  # starts with a date: no card network
        f"订单号{luhn_complete('1234567890123456')}",  # starts with 1: no card network
        f"交易号{luhn_complete('712345678901234567')}",  # 7: no card network either
        f"订单号{luhn_break(luhn_complete('622848003012345678'))}",  # 19 digits, fails Luhn
        f"单号{CARD_16[:4]}-{CARD_16[4:8]} {CARD_16[8:12]}-{CARD_16[12:]}",  # mixed separators
        "订单号 20240501 20240502",
        "时间戳1714521600,毫秒1714521600123",
    ],
)
def test_long_numbers_that_are_not_cards_stay(text: str) -> None:
    masked = mask_pii(text)
    assert masked.text == text
    assert masked.kinds == ()


@pytest.mark.parametrize(
    "text",
    [
        "客服热线400-820-8820",
        "打95588和10086都没用",
        "12315、12345、12321都打了",
        "¥13,812.00",
        "退款1299.00元",
        "2024/05/01",
        "2024.05.01 10:30",
        "2024年5月1日",
        "10:30-11:00送达",
        "快递单号SF1234567890123",
        "运单YT7512345678901",
        "京东订单JD0123456789012",
        "工单#583920",
        "第1380批次",
        "会员号 86 2345 6789",
    ],
)
def test_more_numbers_that_are_not_personal_data_stay(text: str) -> None:
    masked = mask_pii(text)
    assert masked.text == text
    assert masked.kinds == ()


def test_email_next_to_chinese_text() -> None:
    masked = mask_pii("联系邮箱zs@example.com请回复")
    assert masked.text == f"联系邮箱{EMAIL}请回复"


def test_long_runs_without_personal_data_are_masked_in_linear_time() -> None:
    # The e-mail pattern once tried every letter of a long run as the start of an
    # address: 100,000 letters took seconds. Every pattern must stay linear.
    import time

    for text in (
        "a" * 100_000,
        "a.b-c_d%e+f" * 10_000,
        "1 " * 50_000,
        "86 " * 30_000,
        "身份证" * 30_000,
        "0" * 100_000,
    ):
        started = time.perf_counter()
        assert mask_pii(text).kinds == ()
        assert time.perf_counter() - started < 0.5, text[:20]


def test_redact_folds_full_width_digits_before_masking() -> None:
    assert redact("电话：１３８ １２３４ ５６７８") == f"电话:{PHONE}"
    assert redact('{"customer_id": "13812345678"}') == f'{{"customer_id": "{PHONE}"}}'
