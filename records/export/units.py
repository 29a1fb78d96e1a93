"""Units in exports: the database keeps the reference's imperial units (lb, in, °F); a metric
export converts those values and says so in the column headers.

Which fields carry a unit is declared by the record kind (`RecordKind.units`); only the units
below have a metric counterpart. Others (mg/dL, %, mmHg, bpm) are written as stored, as the
reference did (glucose stays in mg/dL).
"""

from __future__ import annotations

from collections.abc import Callable

IMPERIAL = "imperial"
METRIC = "metric"
UNIT_SYSTEMS = (IMPERIAL, METRIC)


def _pounds_to_kilograms(value: float) -> float:
    return round(value * 0.45359237, 1)


def _inches_to_centimetres(value: float) -> float:
    return round(value * 2.54, 1)


def _fahrenheit_to_celsius(value: float) -> float:
    return round((value - 32) * 5 / 9, 1)


# stored unit -> (metric unit, conversion)
TO_METRIC: dict[str, tuple[str, Callable[[float], float]]] = {
    "lb": ("kg", _pounds_to_kilograms),
    "in": ("cm", _inches_to_centimetres),
    "°F": ("°C", _fahrenheit_to_celsius),
}

# The patient's own height and weight name their unit in the field's help text.
_HELP_TEXT_UNITS = {"inches": "in", "pounds": "lb"}


def unit_of_help_text(help_text: str) -> str:
    return _HELP_TEXT_UNITS.get(str(help_text or "").strip().lower(), "")


def shown_unit(stored_unit: str, unit_system: str) -> str:
    """The unit a value stored in `stored_unit` is written in."""
    if unit_system == METRIC and stored_unit in TO_METRIC:
        return TO_METRIC[stored_unit][0]
    return stored_unit


def converter(stored_unit: str, unit_system: str) -> Callable | None:
    """The function that converts a stored value for this export, or None to keep it."""
    if unit_system == METRIC and stored_unit in TO_METRIC:
        convert = TO_METRIC[stored_unit][1]
        return lambda value: None if value is None else convert(value)
    return None
