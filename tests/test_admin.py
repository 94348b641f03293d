"""The admin works with the project's settings: its messages live in the session."""
import pytest
from django.contrib.auth import get_user_model

from blog.models import Post

pytestmark = pytest.mark.django_db


def test_the_admin_adds_a_post_and_says_so(client, user):
    admin = get_user_model().objects.create_superuser("admin", password="correct-horse-battery")
    client.force_login(admin)

    response = client.post("/admin/blog/post/add/", {
        "title": "From the admin", "body": "Written there.", "user": user.pk,
        "created_at_0": "2026-01-02", "created_at_1": "03:04:05",
    }, follow=True)

    assert response.status_code == 200
    post = Post.objects.get(title="From the admin")
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and f">{post}</a>” was added successfully." in messages[0]
