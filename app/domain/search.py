"""Matching what a patient types against names and symptom keywords."""

import re

# Separators staff put between symptom keywords: commas, 顿号, semicolons, spaces.
_KEYWORD_SEPARATORS = re.compile(r"[、，,；;\s]+")


def split_keywords(text: str | None) -> list[str]:
    """The keywords of a department's symptom list, in order, without blanks or repeats."""
    seen = []
    for word in _KEYWORD_SEPARATORS.split(text or ""):
        word = word.strip()
        if word and word not in seen:
            seen.append(word)
    return seen


def normalize_query(query: str | None) -> str:
    """A query folded for matching: trimmed, white space collapsed, Latin letters lower-cased."""
    return " ".join((query or "").split()).lower()


def matching_symptoms(query: str, keywords: list[str]) -> list[str]:
    """The keywords that a query names: the keyword inside the query, or the query inside it.

    "咳嗽" matches 咳嗽; "最近总是咳嗽发烧" matches 咳嗽 and 发烧; "咳" matches 咳嗽 and 咳痰.
    """
    query = normalize_query(query)
    if not query:
        return []
    return [word for word in keywords if word.lower() in query or query in word.lower()]
