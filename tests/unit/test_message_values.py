"""Values fitted to WeChat's keyword types, and the templates filled from them."""

from datetime import date, datetime

import pytest

import config
from app.domain import clock
from app.domain.messages import MessageKind, fit, keyword_type, template_data


@pytest.mark.parametrize(
    ("keyword", "kind"),
    [("thing2", "thing"), ("character_string4", "character_string"), ("phrase13", "phrase")],
)
def test_the_type_is_the_keyword_less_its_number(keyword, kind):
    assert keyword_type(keyword) == kind


@pytest.mark.parametrize("keyword", ["thing", "2thing", "Thing2", ""])
def test_a_name_that_is_no_keyword_is_refused(keyword):
    with pytest.raises(ValueError):
        keyword_type(keyword)


def test_things_are_cut_to_20_characters_with_an_ellipsis():
    assert fit("thing1", "心血管内科") == "心血管内科"
    long = "北京协和医院东单院区门诊楼三层心血管内科第二诊区"
    assert fit("thing1", long) == long[:19] + "…" and len(fit("thing1", long)) == 20
    assert fit("thing1", "  门诊楼\n3层 ") == "门诊楼 3层"


def test_times_dates_and_amounts_are_written_as_wechat_reads_them():
    at = datetime(2026, 12, 4, 8, 30, tzinfo=clock.CHINA_TZ)
    assert fit("time3", at) == "2026年12月4日 08:30"
    assert fit("date2", date(2026, 1, 9)) == "2026年1月9日"
    assert fit("amount2", 2500) == "¥25.00" and fit("amount2", 5) == "¥0.05"


def test_phrases_keep_five_chinese_characters_and_names_ten():
    assert fit("phrase3", "退款成功") == "退款成功"
    assert fit("phrase3", "退款成功了吗OK") == "退款成功了"
    assert fit("name1", "欧阳娜娜") == "欧阳娜娜"
    assert fit("name1", "阿卜杜热合曼·买买提依明江") == "阿卜杜热合曼·买买提"
    assert fit("name1", "Anna Maria Schneider-Lindqvist") == "Anna Maria Schneider"


def test_character_strings_and_numbers_keep_only_what_their_type_allows():
    assert fit("character_string4", "12号") == "12"
    assert fit("character_string4", "A" * 40) == "A" * 32
    assert fit("number4", 3) == "3"


def test_every_sandbox_template_is_filled_from_the_values_its_kind_gives():
    values = {
        "patient": "张三",
        "department": "心内科",
        "doctor": "心内科 王医生",
        "location": "门诊楼3层",
        "visit_time": datetime(2026, 12, 4, 8, 30, tzinfo=clock.CHINA_TZ),
        "number": "12",
        "note": "请按时就诊",
        "reason": "医生临时出诊任务",
        "amount": 2500,
        "result": "退款成功",
        "time": datetime(2026, 12, 3, 9, 0, tzinfo=clock.CHINA_TZ),
        "ahead": 3,
    }
    for kind in MessageKind:
        template = config.SANDBOX_WECHAT_TEMPLATES[kind]
        data = template_data(template["data"], values)
        assert set(data) == set(template["data"]) and all(data.values())
