"""First-run setup shared by `make run` and the tests: schedules, the admin login, demo data."""

import importlib
import secrets
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model

from tickstock_ops import schedules


def app_modules(name: str) -> list:
    """Each installed project app's `name` module, where it has one (e.g. `schedules`, `demo`)."""
    found = []
    for config in apps.get_app_configs():
        if not (config.name.startswith(("tickstock_ops", "monitors", "equity_rules"))):
            continue
        try:
            found.append(importlib.import_module(f"{config.name}.{name}"))
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.{name}":
                raise
    return found


def ensure_schedules() -> int:
    count = 0
    for module in app_modules("schedules"):
        count += len(schedules.ensure(getattr(module, "SCHEDULES", [])))
    return count


def ensure_admin(env: dict) -> tuple[str, str | None]:
    """The admin login: from TICKSTOCK_ADMIN_USER/PASSWORD, or generated once and kept under var/."""
    username = env.get("TICKSTOCK_ADMIN_USER", "admin")
    password = env.get("TICKSTOCK_ADMIN_PASSWORD")
    saved = Path(settings.VAR_DIR) / "admin-password.txt"
    users = get_user_model().objects
    user = users.filter(username=username).first()
    if password is None:
        if user is not None:
            return username, saved.read_text().strip() if saved.exists() else None
        password = secrets.token_urlsafe(12)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(password + "\n")
        saved.chmod(0o600)
    if user is None:
        users.create_superuser(username=username, email="", password=password)
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return username, password


def load_demo_data() -> list[str]:
    loaded = []
    for module in app_modules("demo"):
        module.load()
        loaded.append(module.__name__)
    return loaded
