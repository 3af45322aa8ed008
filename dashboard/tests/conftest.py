import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard.tests.browsing import PASSWORD


@pytest.fixture
def operator():
    """A staff user the browser tests log in as (`browsing.log_in`)."""
    return get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True)


@pytest.fixture
def staff_client():
    user = get_user_model().objects.create_user("operator", password="pw-for-tests-only", is_staff=True)
    client = Client()
    client.force_login(user)
    client.user = user
    return client
