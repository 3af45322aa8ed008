import importlib

import pytest
from django.apps import apps

from equity_rules.models import EquityType, Security

seed_migration = importlib.import_module("equity_rules.migrations.0002_seed_equity_types")


@pytest.fixture(autouse=True)
def seeded_equity_types(request):
    """The seed migration's rows, restored after another app's transactional test flushed the tables."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    seed_migration.seed(apps, None)


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("alice", "alice@example.com", "pw-alice-123")
    client.force_login(user)
    return client


def make_security(symbol: str = "SPY", equity_type: str = "etf", **fields) -> Security:
    defaults = {"name": f"{symbol} fund", "exchange": "ARCX", "aum": 560_000_000_000, "expense_ratio": "0.0945",
                "nav": "598.10", "last_close": "598.32", "average_volume": 62_000_000,
                "shares_outstanding": 915_000_000}
    defaults.update(fields)
    security = Security.objects.create(symbol=symbol, equity_type=EquityType.objects.get(equity_type=equity_type),
                                       **defaults)
    security.refresh_from_db()
    return security
