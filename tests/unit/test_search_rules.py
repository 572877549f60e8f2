"""Symptom keyword matching and query folding."""

from app.domain.search import matching_symptoms, normalize_query, split_keywords

RESPIRATORY = split_keywords("咳嗽、咳痰、发烧、气喘")


def test_split_keywords_accepts_the_separators_staff_use():
    assert split_keywords("咳嗽、咳痰，发烧,气喘；胸闷; 哮喘  感冒") == [
        "咳嗽", "咳痰", "发烧", "气喘", "胸闷", "哮喘", "感冒",
    ]  # fmt: skip


def test_split_keywords_drops_blanks_and_repeats():
    assert split_keywords("、咳嗽、、咳嗽 ") == ["咳嗽"]
    assert split_keywords(None) == []


def test_exact_symptom_matches():
    assert matching_symptoms("咳嗽", RESPIRATORY) == ["咳嗽"]


def test_symptoms_inside_a_sentence_match():
    assert matching_symptoms("最近总是咳嗽还发烧", RESPIRATORY) == ["咳嗽", "发烧"]


def test_a_fragment_matches_every_keyword_containing_it():
    assert matching_symptoms("咳", RESPIRATORY) == ["咳嗽", "咳痰"]


def test_unrelated_text_matches_nothing():
    assert matching_symptoms("牙痛", RESPIRATORY) == []


def test_blank_query_matches_nothing():
    assert matching_symptoms("   ", RESPIRATORY) == []


def test_latin_letters_fold_case():
    assert matching_symptoms("COVID", split_keywords("covid、流感")) == ["covid"]


def test_normalize_query_collapses_white_space():
    assert normalize_query("  呼吸\t内科  ") == "呼吸 内科"
    assert normalize_query(None) == ""
