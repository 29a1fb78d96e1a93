"""Notification tasks: they take row ids and call notifications/delivery.py or reminders.py.

A lost or repeated task is harmless: the Delivery rows are the record of work to do, the
claim in delivery.deliver lets only one run send a row, and the sweeper re-queues what a lost
task left behind.
"""

from celery import shared_task

from notifications import delivery, reminders


@shared_task(name="notifications.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Sends one Delivery row if it is due and no other worker holds it."""
    return delivery.deliver(delivery_id)


@shared_task(name="notifications.tasks.deliver_batch", ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> dict:
    """Sends several rows one after the other (the planner's busy minutes: fewer messages)."""
    outcomes: dict[str, int] = {}
    for delivery_id in delivery_ids:
        outcome = delivery.deliver(delivery_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="notifications.tasks.plan_reminders")
def plan_reminders() -> int:
    """Every minute: writes the medication reminders now due and queues them."""
    return delivery.enqueue(reminders.plan())


@shared_task(name="notifications.tasks.sweep_deliveries")
def sweep_deliveries() -> dict:
    """Every minute: re-queues rows a lost task left pending and rows whose lease ran out."""
    return delivery.sweep()


@shared_task(name="notifications.tasks.prune_history")
def prune_history() -> int:
    """Daily: deletes finished rows older than NOTIFICATION_HISTORY_DAYS."""
    return delivery.prune()
