"""Form fields of the Django admin for values stored as JSON lists of strings (tags, reminder
times): one line of text, comma-separated, instead of raw JSON."""

from __future__ import annotations

import re
from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError


class StringListField(forms.CharField):
    """Shows a list as "a, b, c" and reads it back as a list, run through `normalise` — the
    same function the model's clean() and the API use, so the admin stores what they would."""

    def __init__(
        self,
        *,
        normalise: Callable[[list[str]], list[str]],
        separator: str = r",",
        joiner: str = ", ",
        **kwargs,
    ):
        self.normalise = normalise
        self.separator = re.compile(separator)
        self.joiner = joiner
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        kwargs.pop("max_length", None)
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return self.joiner.join(str(item) for item in value)
        return value  # the text as typed, when the form is shown again with an error

    def to_python(self, value):
        if isinstance(value, list | tuple):
            items = list(value)
        else:
            text = super().to_python(value) or ""
            items = [part.strip() for part in self.separator.split(text) if part.strip()]
        try:
            return self.normalise(items)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


def tag_list_field(**kwargs) -> StringListField:
    from patients.models import normalise_tags

    kwargs.setdefault("help_text", "Comma-separated, e.g. diabetes, follow-up.")
    return StringListField(normalise=normalise_tags, **kwargs)


def text_list_field(normalise: Callable[[list[str]], list[str]], **kwargs) -> StringListField:
    """Free texts (which may hold commas): one per line."""
    kwargs.setdefault("help_text", "One per line.")
    return StringListField(
        normalise=normalise,
        separator=r"\n",
        joiner="\n",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        **kwargs,
    )
