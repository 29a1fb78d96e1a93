"""Records as their own API shows them, for results that span types (search, tag search).

Each type's list endpoint defines what a record looks like (fields, aliases, nested
summaries, the queryset's joins and annotations); `record_items` reuses that endpoint's
viewset, found through the route registry, instead of describing any type here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from patients.core.routing import RECORD_ROUTES


@cache
def _items_viewset(model) -> type | None:
    route = next((r for r in RECORD_ROUTES if r.model is model), None)
    if route is None:
        return None

    # The list endpoint's viewset, scoped to every patient the user may see (not to one
    # patient from the query string, which is the search's own).
    def _scoped_to_one_patient(self) -> bool:
        return False

    return type(
        f"{route.viewset.__name__}Items",
        (route.viewset,),
        {"_scoped_to_one_patient": _scoped_to_one_patient, "__module__": __name__},
    )


def serialized_records(request, model, ids: Iterable) -> tuple[dict, dict]:
    """({id: record}, {id: item}) for the records `ids` of `model` that the user may see."""
    viewset = _items_viewset(model)
    wanted = list(ids)
    if viewset is None or not wanted:
        return {}, {}
    view = viewset(request=request, args=(), kwargs={}, format_kwarg=None, action="list")
    view.detail = False
    records = list(view.get_queryset().filter(pk__in=wanted).order_by())
    data = view.get_serializer(records, many=True).data
    kind = getattr(model, "kind", None)
    items = {}
    for record, item in zip(records, data, strict=True):
        item = dict(item)
        if kind is not None:
            item["type"] = kind.name
        items[record.pk] = item
    return {record.pk: record for record in records}, items


def record_items(request, model, ids: Iterable) -> dict[int, dict]:
    """{id: item}: each record the user may see as its list endpoint shows it, plus `type`
    (the kind's name). A fixed number of queries per call, however many ids."""
    return serialized_records(request, model, ids)[1]
