"""django-q2 task functions of the core. Thin: they call library code."""

from tickstock_ops import events


def relay_events() -> dict:
    result = events.flush()
    pruned = events.prune_published()
    return {"delivered": result.delivered, "failed": result.failed, "pruned": pruned}
