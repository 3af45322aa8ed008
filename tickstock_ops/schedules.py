"""Creating django-q2 schedules idempotently: `Schedule.name` is not unique, so update_or_create by name."""

from django_q.models import Schedule

SCHEDULES = [
    {"name": "relay events", "func": "tickstock_ops.tasks.relay_events", "schedule_type": Schedule.MINUTES,
     "minutes": 1},
    {"name": "apply silences", "func": "tickstock_ops.tasks.apply_silences", "schedule_type": Schedule.MINUTES,
     "minutes": 1},
    {"name": "service levels: check targets", "func": "tickstock_ops.tasks.check_service_levels",
     "schedule_type": Schedule.MINUTES, "minutes": 5},
]


def ensure(schedules: list[dict]) -> list[Schedule]:
    created = []
    for spec in schedules:
        spec = dict(spec)
        name = spec.pop("name")
        schedule, _ = Schedule.objects.update_or_create(name=name, defaults={"repeats": -1, **spec})
        created.append(schedule)
    return created
