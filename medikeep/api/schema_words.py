"""The words of the OpenAPI schema: a summary and a description for every operation.

An `extend_schema(summary=…, description=…)` on a view always wins (drf-spectacular calls
these only when the view gives none). Record types and link paths, hundreds of operations
built from one base class, get theirs from the record registry; other operations use their
handler's docstring, which is written for client authors (view classes explain themselves
to developers in comments, not docstrings). Whatever is left is named from its path.
"""

from __future__ import annotations

import inspect
import re

from rest_framework.viewsets import GenericViewSet

from patients.access import Level

CRUD_ACTIONS = frozenset({"list", "retrieve", "create", "update", "partial_update", "destroy"})


def _names(model) -> tuple[str, str]:
    singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
    if singular == plural:  # "vitals", "medical equipment": one row is one entry
        singular = f"{singular} entry"
    return singular, plural


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _level(view) -> str:
    return Level(getattr(view, "write_level", Level.EDIT)).name


def _record_viewset(view) -> bool:
    from patients.core.views import PatientOwnedViewSet

    return isinstance(view, PatientOwnedViewSet)


def _link_viewset(view) -> bool:
    from patients.core.links import LinkViewSet

    return isinstance(view, LinkViewSet)


def _model(view):
    queryset = getattr(view, "queryset", None)
    return queryset.model if queryset is not None else None


def _patient_in_path(schema) -> bool:
    return "{patient_id}" in schema.path


def _parent_in_path(schema) -> bool:
    return "{parent_id}" in schema.path


def _action(schema) -> str | None:
    action = getattr(schema.view, "action", None)
    if action in {"update", "partial_update"} and _link_viewset(schema.view):
        return "update"
    return action


# -- record types (PatientOwnedViewSet and everything built on it)


def _record_summary(schema) -> str | None:
    view, action = schema.view, _action(schema)
    singular, plural = _names(_model(view))
    if action == "by_patient" or (action == "list" and _patient_in_path(schema)):
        return f"List {plural} of the patient in the path"
    if action == "list" and _parent_in_path(schema):
        return f"List {plural} of the record in the path"
    if action == "create" and (_patient_in_path(schema) or _parent_in_path(schema)):
        return f"Create {_article(singular)} under the record in the path"
    return {
        "list": f"List {plural} of a patient",
        "retrieve": f"Get {_article(singular)}",
        "create": f"Create {_article(singular)}",
        "update": f"Replace {_article(singular)}",
        "partial_update": f"Update {_article(singular)}",
        "destroy": f"Delete {_article(singular)}",
    }.get(action)


def _record_description(schema) -> str | None:
    view, action = schema.view, _action(schema)
    singular, plural = _names(_model(view))
    level = _level(view)
    limits = (
        f"Paged with `skip` and `limit` (default {view.default_limit}, at most {view.max_limit})."
    )
    if action == "by_patient" or (action == "list" and _patient_in_path(schema)):
        return (
            f"The {plural} of the patient named in the path. You need at least VIEW access "
            f"to that patient: 404 when you cannot see it. {limits}"
        )
    if action == "list" and _parent_in_path(schema):
        return (
            f"The {plural} attached to the record named in the path (404 when you cannot "
            f"see it). {limits}"
        )
    if action == "list":
        return (
            f"The {plural} of one patient: the `patient_id` query parameter names it (you "
            f"need at least VIEW access to it, else 403 or 404); without it, the {plural} "
            f"of your active patient. Filters narrow the list further. {limits}"
        )
    if action == "retrieve":
        return (
            f"One {singular} by id. 404 when it does not exist or belongs to a patient you "
            f"cannot see."
        )
    if action == "create":
        where = (
            "The patient (and the parent record) come from the path."
            if _patient_in_path(schema) or _parent_in_path(schema)
            else "`patient_id` in the body names the patient (default: your active "
            "patient); a patient you cannot see is refused."
        )
        return (
            f"Creates {_article(singular)}. {where} Needs {level} access to the patient "
            f"(403 with less). Answers the stored record. Unknown fields are ignored; "
            f"invalid values answer 422 naming each field."
        )
    if action in {"update", "partial_update"}:
        kind = "every field sent replaces" if action == "update" else "only the fields sent change"
        return (
            f"Changes {_article(singular)}: {kind} the stored values. Needs {level} access "
            f"to its patient (403 with VIEW only, 404 when you cannot see it). A record "
            f"cannot move to another patient."
        )
    if action == "destroy":
        answer = "204 with no body" if view.delete_status == 204 else "200 with a short message"
        return (
            f"Deletes {_article(singular)} (answers {answer}). Needs {level} access to its "
            f"patient (403 with less, 404 when you cannot see it)."
        )
    return None


# -- links between two records of one patient (patients/core/links.py)


def _link_words(schema) -> tuple[str, str] | None:
    family = schema.view.family
    parent = _names(family.related(family.parent))[0]
    child_singular, child_plural = _names(family.related(family.child))
    action = _action(schema)
    rules = (
        f"The {parent} in the path must be one you can see (404 otherwise); linking and "
        f"unlinking need EDIT access to its patient (403 with VIEW only)."
    )
    words = {
        "list": (
            f"List {child_plural} linked to {_article(parent)}",
            f"The links of the {parent} in the path, each with a summary of the linked "
            f"{child_singular}. {rules}",
        ),
        "create": (
            f"Link {_article(child_singular)} to {_article(parent)}",
            f"Links one {child_singular} of the same patient (`{family.child}_id`) to the "
            f"{parent} in the path. A record of another patient is refused (400), and so "
            f"is linking twice. {rules}",
        ),
        "bulk": (
            f"Link several {child_plural} to {_article(parent)}",
            f"Links every {child_singular} of `{family.child}_ids` (up to 100) at once, all "
            f"or nothing; records already linked are skipped, empty or repeated ids answer "
            f"422. {rules}",
        ),
        "update": (
            f"Update the link between {_article(parent)} and {_article(child_singular)}",
            f"Changes the link's own fields (such as notes); the linked records stay. {rules}",
        ),
        "destroy": (
            f"Unlink {_article(child_singular)} from {_article(parent)}",
            f"Removes the link; both records stay. {rules}",
        ),
    }
    return words.get(action)


# -- other model viewsets (catalogues, directories)


def _generic_crud(schema) -> tuple[str, str] | None:
    model = _model(schema.view)
    action = _action(schema)
    if model is None or action not in CRUD_ACTIONS:
        return None
    singular, plural = _names(model)
    return {
        "list": (f"List {plural}", f"The {plural} you may see, paged with `skip` and `limit`."),
        "retrieve": (f"Get {_article(singular)}", f"One {singular} by id (404 if none)."),
        "create": (f"Create {_article(singular)}", f"Adds {_article(singular)}."),
        "update": (f"Replace {_article(singular)}", f"Changes {_article(singular)}."),
        "partial_update": (
            f"Update {_article(singular)}",
            f"Changes only the fields sent of {_article(singular)}.",
        ),
        "destroy": (f"Delete {_article(singular)}", f"Deletes {_article(singular)}."),
    }[action]


# -- everything else


def _own_doc(obj) -> str:
    """A docstring written on `obj` itself: inherited ones describe base classes to
    developers, not this operation to clients."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


def _method_doc(schema) -> str:
    """The docstring of the action or HTTP method handler itself."""
    view = schema.view
    handler = getattr(view, getattr(view, "action", None) or schema.method.lower(), None)
    return _own_doc(getattr(handler, "__func__", handler)) if handler is not None else ""


def _handler_doc(schema) -> str:
    """The handler's docstring; for a plain view (one resource, one class) the class's own
    docstring when the handler has none."""
    doc = _method_doc(schema)
    if not doc and not isinstance(schema.view, GenericViewSet):
        doc = _own_doc(type(schema.view))
    return doc


_CLAUSE_END = re.compile(r"[.;:](?:\s|$)|\s—\s")
# An aside the sentence can do without: one before punctuation or the end of the text.
_ASIDE = re.compile(r"\s*\([^()]*\)(?=[.,;:]|$)")


def _summary_from_doc(doc: str) -> str:
    """The first clause of a docstring (of three words or more), short enough for a
    one-line summary."""
    first = _ASIDE.sub("", " ".join(doc.split("\n\n", 1)[0].split()))
    clause = first
    for end in _CLAUSE_END.finditer(first):
        if len(first[: end.start()].split()) >= 3:
            clause = first[: end.start()]
            break
    clause = clause.strip().rstrip(",.")
    if len(clause) > 90:
        clause = clause[:87].rsplit(" ", 1)[0] + " …"
    return clause[:1].upper() + clause[1:]


_VERBS = {"GET": "Get", "POST": "Submit", "PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}


def summary_from_path(method: str, path: str) -> str:
    """The last resort, "Submit backup verify": tests look for it to find operations that
    still need words of their own."""
    words = [
        part.replace("-", " ").replace("_", " ")
        for part in path.strip("/").split("/")
        if part and not part.startswith("{")
    ]
    return f"{_VERBS.get(method.upper(), method.title())} {' '.join(words[-2:])}"


def _summary_from_path(schema) -> str:
    return summary_from_path(schema.method, schema.path.removeprefix(schema.path_prefix))


def summary_for(schema) -> str:
    view = schema.view
    if _link_viewset(view):
        words = _link_words(schema)
        if words:
            return words[0]
    if _record_viewset(view):
        summary = _record_summary(schema)
        if summary:
            return summary
    doc = _method_doc(schema)
    if doc:
        return _summary_from_doc(doc)
    generic = _generic_crud(schema)
    if generic:
        return generic[0]
    # The method's extend_schema(description=…), else the view class's docstring.
    described = schema.get_description()
    if described and described != _description_from_path(schema):
        return _summary_from_doc(described)
    return _summary_from_path(schema)


def description_for(schema) -> str:
    view = schema.view
    if _link_viewset(view):
        words = _link_words(schema)
        if words:
            return words[1]
    if _record_viewset(view):
        description = _record_description(schema)
        if description:
            return description
    doc = _handler_doc(schema)
    if doc:
        return doc
    generic = _generic_crud(schema)
    if generic:
        return generic[1]
    # An extend_schema(summary=…) without a description: the summary says it all.
    schema._describing = True
    try:
        explicit = schema.get_summary()
    finally:
        schema._describing = False
    if explicit:
        return explicit if explicit.endswith((".", "?", ")")) else f"{explicit}."
    return _description_from_path(schema)


def _description_from_path(schema) -> str:
    return _summary_from_path(schema) + "."
