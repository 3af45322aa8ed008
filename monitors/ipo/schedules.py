"""django-q2 schedules (created idempotently by tickstock_ops.bootstrap.ensure_schedules).

Cron runs in the cluster's time zone (UTC here): 03:30 UTC is 22:30/23:30 in New York, after EDGAR's evening
daily index; 11:30 UTC is 06:30/07:30 in New York, before the open; the trading check runs every 15 minutes
across the session (13:30–21:00 UTC covers 09:30–16:00 New York in summer and winter time).
"""

from django_q.models import Schedule

SCHEDULES = [
    {"name": "ipo: evening scan", "func": "monitors.ipo.tasks.evening_scan", "schedule_type": Schedule.CRON,
     "cron": "30 3 * * 2-6"},
    {"name": "ipo: pre-open scan", "func": "monitors.ipo.tasks.morning_scan", "schedule_type": Schedule.CRON,
     "cron": "30 11 * * 1-5"},
    {"name": "ipo: trading activity", "func": "monitors.ipo.tasks.check_trading_activity",
     "schedule_type": Schedule.CRON, "cron": "*/15 13-21 * * 1-5"},
]
