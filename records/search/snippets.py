"""The `highlight` of a search result: a short piece of the record's own text around the
first place a query word matches (or its name when there is no query)."""

from __future__ import annotations

from records.search.index import fold, term_text

WIDTH = 120
BEFORE = 40


def _values(kind, record):
    for name in (kind.title, *kind.text):
        value = getattr(record, name, None)
        if isinstance(value, list | tuple):
            value = ", ".join(str(item) for item in value)
        if value not in (None, ""):
            yield str(value)
    tags = getattr(record, "tags", None)
    if tags:
        yield ", ".join(str(tag) for tag in tags)


def _matches(value: str, word: str) -> bool:
    folded = fold(value)
    if word.split()[0] not in folded:  # cheap test first: most fields do not hold the word
        return False
    terms = term_text(folded)
    if len(word) >= 3:
        return word in terms
    return any(term.startswith(word) for term in terms.split())


def _cut(text: str, word: str) -> str:
    if len(text) <= WIDTH:
        return text
    folded = fold(text)
    # Folding keeps positions for most text (accents go, letters stay); where it does not
    # (ligatures, ß), the snippet starts at the beginning.
    at = folded.find(word.split()[0]) if word and len(folded) == len(text) else -1
    start = max(0, at - BEFORE) if at >= 0 else 0
    piece = text[start : start + WIDTH].strip()
    return ("…" if start > 0 else "") + piece + ("…" if start + WIDTH < len(text) else "")


def highlight(kind, record, words) -> str:
    values = list(_values(kind, record))
    for word in words:
        for value in values:
            if _matches(value, word):
                return _cut(value, word)
    return _cut(values[0], "") if values else ""
