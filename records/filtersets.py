import django_filters

from patients.core.filtersets import PatientOwnedFilterSet, TaggedFilterSet
from records.models import Gauge, Medication


class MedicationFilterSet(TaggedFilterSet):
    search_fields = ("medication_name", "alternative_name", "indication")

    name = django_filters.CharFilter(
        method="filter_name", help_text="Part of the medication's name."
    )
    status = django_filters.CharFilter(field_name="status")
    active_only = django_filters.BooleanFilter(method="filter_active_only")

    class Meta:
        model = Medication
        fields: list = []

    def filter_name(self, queryset, name, value):
        return self.filter_search(queryset, name, value)

    def filter_active_only(self, queryset, name, value):
        return queryset.filter(status="active") if value else queryset


class GaugeFilterSet(PatientOwnedFilterSet):
    gauge_type = django_filters.CharFilter(field_name="gauge_type", method="filter_type")
    start_date = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__gte")
    end_date = django_filters.DateFilter(field_name="recorded_at", lookup_expr="date__lte")

    class Meta:
        model = Gauge
        fields: list = []

    def filter_type(self, queryset, name, value):
        return queryset.filter(gauge_type=value.strip().lower().replace(" ", "_"))
