import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_q.models import Schedule

from config import bootstrap
from tickstock_ops import testing

pytestmark = pytest.mark.django_db


def test_schedules_are_created_once_however_often_bootstrap_runs():
    bootstrap.ensure_schedules()
    bootstrap.ensure_schedules()
    assert Schedule.objects.filter(name="relay events").count() == 1
    assert Schedule.objects.get(name="relay events").func == "tickstock_ops.tasks.relay_events"


def test_the_admin_login_is_generated_once_and_kept(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    username, password = bootstrap.ensure_admin({})
    assert username == "admin" and len(password) >= 12
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    assert bootstrap.ensure_admin({}) == ("admin", password)
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o077 == 0


def test_the_admin_login_can_come_from_the_environment(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    env = {"TICKSTOCK_ADMIN_USER": "ops", "TICKSTOCK_ADMIN_PASSWORD": "correct horse battery"}
    assert bootstrap.ensure_admin(env) == ("ops", "correct horse battery")
    assert get_user_model().objects.get(username="ops").check_password("correct horse battery")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal")
def test_readonly_role_is_refused_on_sqlite():
    result = testing.run_manage("create_readonly_role", "reader")
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr and "Traceback" not in result.stderr
