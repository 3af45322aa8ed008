"""Writing notifications in the transaction of the alert change they report (the outbox pattern, as events do).

`enqueue()` is called by `tickstock_ops.alerts` wherever an alert starts firing (new, reopened) or resolves; it
files each change under the aggregation group of every route that takes the alert and sets when that group is
next due: after group_wait for a new group, at the group_interval since its last message otherwise.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django_q.tasks import async_task

from tickstock_ops.models import Alert
from tickstock_ops.notify import routing
from tickstock_ops.notify.models import Notification, NotificationGroup

KICK_TASK = "tickstock_ops.notify.tasks.deliver_notifications"


def enqueue(changes: list[tuple[Alert, str]], now: datetime) -> int:
    """File `changes` ((alert, "firing" | "resolved")) for delivery; returns how many notifications were written."""
    if not changes:
        return 0
    tree = routing.load()
    if tree.empty:
        return 0
    wanted: dict[str, tuple[routing.Node, dict]] = {}
    items: list[tuple[str, Alert, str]] = []
    for alert, kind in changes:
        labels, nodes = tree.routes_for(alert)
        for node in nodes:
            if kind == Notification.Kind.RESOLVED and not node.send_resolved:
                continue
            key, values = node.group_key(labels)
            wanted.setdefault(key, (node, values))
            items.append((key, alert, kind))
    if not items:
        return 0
    groups, created = _groups(wanted, now)
    Notification.objects.bulk_create([
        Notification(group=groups[key], alert=alert, kind=kind, created_at=now) for key, alert, kind in items])
    rescheduled = [group for key, group in groups.items()
                   if key not in created and _schedule(group, wanted[key][0], now)]
    NotificationGroup.objects.bulk_update(rescheduled, ["due_at"])
    if created or rescheduled:
        transaction.on_commit(_kick, robust=True)
    return len(items)


def _groups(wanted: dict[str, tuple[routing.Node, dict]], now: datetime) -> tuple[dict, set[str]]:
    """The groups of `wanted`, locked until the caller's transaction ends, and the keys of those this call
    created (due after their route's group_wait)."""
    locked = NotificationGroup.objects.select_for_update().order_by("key")
    groups = {group.key: group for group in locked.filter(key__in=list(wanted))}
    missing = [key for key in wanted if key not in groups]
    NotificationGroup.objects.bulk_create([
        NotificationGroup(key=key, route=node.path, receiver=node.receiver, labels=values,
                          scope=" · ".join(value for value in values.values() if value)[:300],
                          group_interval=node.group_interval, repeat_interval=node.repeat_interval,
                          due_at=now + timedelta(seconds=node.group_wait), created_at=now)
        for key, (node, values) in ((key, wanted[key]) for key in missing)], ignore_conflicts=True)
    made = {group.key: group for group in locked.filter(key__in=missing)} if missing else {}
    created = {key for key, group in made.items() if group.created_at == now}  # not another process's
    groups.update(made)
    edited = []  # a route's intervals may have been edited since its group was made
    for key, group in groups.items():
        node = wanted[key][0]
        if (group.group_interval, group.repeat_interval) != (node.group_interval, node.repeat_interval):
            group.group_interval, group.repeat_interval = node.group_interval, node.repeat_interval
            edited.append(group)
    NotificationGroup.objects.bulk_update(edited, ["group_interval", "repeat_interval"])
    return groups, created


def _schedule(group: NotificationGroup, node: routing.Node, now: datetime) -> bool:
    """Bring the group's next send forward for news; a group retrying after a failure keeps its backoff."""
    if group.failures:
        return False
    if group.last_sent_at is None:
        due = now + timedelta(seconds=node.group_wait)
    else:
        due = max(now, group.last_sent_at + timedelta(seconds=group.group_interval))
    if group.due_at is not None and group.due_at <= due:
        return False
    group.due_at = due
    return True


def _kick() -> None:
    """Have the cluster start a deliverer now, so a new group goes out at its group_wait rather than at the next
    scheduled run (which also sends it, should this task be lost)."""
    async_task(KICK_TASK, task_name="deliver notifications (new group)")
