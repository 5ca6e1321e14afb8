"""The users list leads with "Create API user" and says what the other button makes."""

import pytest

from credentials.models import User
from tests.credentials.test_admin_support import admin_page, admin_user  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_users_list_makes_the_api_user_path_the_obvious_one(admin_client, admin_user):
    page = admin_client.get(admin_page(User)).content.decode()
    tools = page[page.index('<ul class="object-tools">') :]
    tools = tools[: tools.index("</ul>")]
    create_api_user = tools.index(f'href="{admin_page(User, "add_api_user")}"')
    add_user = tools.index(f'href="{admin_page(User, "add")}"')
    assert create_api_user < add_user  # first in the bar
    assert "Add admin user" in tools and "Add user" not in tools
    assert "API users call the API with API keys" in page and "password" in page
