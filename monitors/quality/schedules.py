from django_q.models import Schedule

SCHEDULES = [
    # 21:15 UTC is after the New York close in winter (21:00) and summer (20:00); early closes are earlier still.
    # The task itself asks the exchange calendar which session closed and skips one already scanned.
    {"name": "quality: daily scan and summary", "func": "monitors.quality.tasks.daily_scan",
     "schedule_type": Schedule.CRON, "cron": "15 21 * * *"},
    # Every minute; the task does nothing while the market is closed (nights, weekends, holidays, after half days).
    {"name": "quality: intraday staleness and coverage", "func": "monitors.quality.tasks.intraday_scan",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    # Partitions of the bar table created months ahead, and old ones dropped per interval (docs/scaling.md);
    # 00:30 UTC is outside every US session.
    {"name": "quality: bar partitions and retention", "func": "monitors.quality.tasks.maintain_bar_partitions",
     "schedule_type": Schedule.CRON, "cron": "30 0 * * *"},
    # The lag alert of the bar streams, and a consumer kept running by the cluster where none runs on its own.
    {"name": "quality: bar stream lag", "func": "monitors.quality.tasks.check_bars_lag",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
    {"name": "quality: keep a bar consumer running", "func": "monitors.quality.tasks.consume_bars",
     "schedule_type": Schedule.MINUTES, "minutes": 1},
]
