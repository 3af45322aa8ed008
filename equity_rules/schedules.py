from django_q.models import Schedule

SCHEDULES = [
    {"name": "equity rules: enqueue due processing", "func": "equity_rules.tasks.enqueue_due",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    {"name": "equity rules: drain processing queue", "func": "equity_rules.tasks.process_queue",
     "schedule_type": Schedule.MINUTES, "minutes": 1, "kwargs": "{'max_seconds': 50}"},
    {"name": "equity rules: SLA check", "func": "equity_rules.tasks.check_sla",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    {"name": "equity rules: prune finished jobs", "func": "equity_rules.tasks.prune_finished",
     "schedule_type": Schedule.DAILY},
]
