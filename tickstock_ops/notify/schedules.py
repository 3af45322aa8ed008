from django_q.models import Schedule

SCHEDULES = [
    # Catches what the after-commit kick (notify.queue) missed, and retries and repeats that come due.
    {"name": "notifications: deliver", "func": "tickstock_ops.notify.tasks.deliver_notifications",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
]
