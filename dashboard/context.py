from django.http import HttpRequest

from dashboard import clock
from dashboard.forms import DURATION_PRESETS


def common(request: HttpRequest) -> dict:
    """What every dashboard page needs: the user's clock and the silence popover's presets."""
    return {**clock.context(request), "silence_presets": DURATION_PRESETS}
