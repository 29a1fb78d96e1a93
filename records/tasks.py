"""Custom report tasks: they take row ids and call records/reports/services.py.

A lost or repeated task is harmless: the GeneratedReport row is the record of the work, the
claim in report_build lets one worker build it, and the sweeper re-queues what was lost.
"""

from celery import shared_task

from records.reports import services


@shared_task(name="records.tasks.generate_report", ignore_result=True)
def generate_report(report_id: int) -> str:
    """Builds one custom report if it is still waiting and no other worker holds it."""
    return services.report_build(report_id)


@shared_task(name="records.tasks.sweep_reports")
def sweep_reports() -> dict:
    """Every few minutes: queues reports left pending or stalled past their lease."""
    return services.reports_sweep()
