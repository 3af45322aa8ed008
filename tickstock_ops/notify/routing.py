"""The route tree (Alertmanager's): which receivers hear of an alert, grouped by which labels, how often.

Routes match the labels silences match (`Alert.match_labels()`: the alert's own labels plus monitor, type,
severity), with the same matchers (`tickstock_ops.matchers`).

Every alert enters at the implicit root (receiver `default` = TICKSTOCK_NOTIFY_URLS, the NOTIFY_* settings).
At each node the children are tried in order; the first that matches takes the alert unless it says `continue`,
in which case its later siblings are tried too. A node none of whose children match handles the alert itself.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings

from tickstock_ops import matchers as label_matchers
from tickstock_ops.models import Alert
from tickstock_ops.notify import conf
from tickstock_ops.notify.models import DEFAULT_RECEIVER, Receiver, Route
from tickstock_ops.notify.send import split_urls

log = logging.getLogger(__name__)
RECEIVER_ALERT_SOURCE = "notify"


@dataclass
class Node:
    path: str
    receiver: str
    group_by: list[str]
    group_wait: int
    group_interval: int
    repeat_interval: int
    send_resolved: bool
    matchers: list[label_matchers.Matcher] = field(default_factory=list)
    continue_matching: bool = False
    children: list["Node"] = field(default_factory=list)

    def match(self, labels: dict[str, str]) -> list["Node"]:
        if not label_matchers.matches_all(self.matchers, labels):
            return []
        found: list[Node] = []
        for child in self.children:
            hits = child.match(labels)
            found += hits
            if hits and not child.continue_matching:
                break
        return found or [self]

    def group_key(self, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
        values = {name: labels.get(name, "") for name in self.group_by}
        digest = hashlib.sha256(json.dumps([self.path, self.receiver, values], sort_keys=True).encode())
        return digest.hexdigest(), values


class Tree:
    def __init__(self, root: Node, receivers: dict[str, list[str]]):
        self.root = root
        self.receivers = receivers

    def routes_for(self, alert: Alert) -> tuple[dict[str, str], list[Node]]:
        """The nodes that take `alert`, leaving out receivers with no URLs and a failing receiver's own alert."""
        labels = alert.match_labels()
        nodes = [node for node in self.root.match(labels) if self.receivers.get(node.receiver)]
        own = labels.get("receiver") if alert.source == RECEIVER_ALERT_SOURCE else None
        if own:  # a receiver's failure goes to the others; to the root's receiver if no route leaves one
            nodes = [node for node in nodes if node.receiver != own] or [
                node for node in [self.root] if self.receivers.get(node.receiver) and node.receiver != own]
        return labels, nodes

    def max_group_wait(self) -> int:
        def walk(node: Node) -> int:
            return max([node.group_wait] + [walk(child) for child in node.children])

        return walk(self.root)

    @property
    def empty(self) -> bool:
        return not any(self.receivers.values())


def receiver_urls() -> dict[str, list[str]]:
    urls = {DEFAULT_RECEIVER: split_urls(settings.TICKSTOCK_NOTIFY_URLS)}
    for receiver in Receiver.objects.filter(enabled=True):
        urls[receiver.name] = receiver.url_list()
    return urls


def load() -> Tree:
    """The tree as configured now: a few small queries, once per batch of alert changes (one when no receiver
    is configured at all)."""
    receivers = receiver_urls()
    root = Node(path="root", receiver=DEFAULT_RECEIVER, group_by=list(conf.get("NOTIFY_GROUP_BY")),
                group_wait=int(conf.get("NOTIFY_GROUP_WAIT_SECONDS")),
                group_interval=int(conf.get("NOTIFY_GROUP_INTERVAL_SECONDS")),
                repeat_interval=int(conf.get("NOTIFY_REPEAT_INTERVAL_SECONDS")), send_resolved=False)
    if any(receivers.values()):
        by_parent: dict[int | None, list[Route]] = {}
        for route in Route.objects.filter(enabled=True).order_by("position", "id"):
            by_parent.setdefault(route.parent_id, []).append(route)
        _attach(root, None, by_parent)
    return Tree(root, receivers)


def _attach(node: Node, parent_id: int | None, by_parent: dict[int | None, list[Route]]) -> None:
    for route in by_parent.get(parent_id, []):
        try:  # the admin refuses bad matchers; a row written otherwise is skipped, and alerting goes on
            matchers = label_matchers.parse(route.matchers)
        except label_matchers.MatcherError as error:
            log.error("route %s is skipped: %s", route.name, error)
            continue
        child = Node(
            path=f"{node.path}/{route.name}", receiver=route.receiver or node.receiver,
            group_by=[name.strip() for name in route.group_by.split(",") if name.strip()] or node.group_by,
            group_wait=_or(route.group_wait, node.group_wait),
            group_interval=_or(route.group_interval, node.group_interval),
            repeat_interval=_or(route.repeat_interval, node.repeat_interval),
            send_resolved=node.send_resolved if route.send_resolved is None else route.send_resolved,
            matchers=matchers, continue_matching=route.continue_matching,
        )
        node.children.append(child)
        _attach(child, route.pk, by_parent)


def _or(value: int | None, inherited: int) -> int:
    return inherited if value is None else value
