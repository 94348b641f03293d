from django.conf import settings
from django.db import models


class PostQuerySet(models.QuerySet):
    def with_author(self):
        """Posts with their authors joined, newest first (Meta.ordering)."""
        return self.select_related("user")


class CommentQuerySet(models.QuerySet):
    def with_related(self):
        """Comments with their authors and posts joined, newest first (Meta.ordering)."""
        return self.select_related("user", "post")


class Written(models.Model):
    """What posts and comments share: an author, the time of writing, and newest first."""

    # A user's posts and comments: user.posts, user.comments.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)ss")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class Post(Written):
    title = models.CharField(max_length=500)
    body = models.TextField()

    objects = PostQuerySet.as_manager()

    class Meta(Written.Meta):
        indexes = [
            # Matches the list ordering, walked backwards, so a page is an index walk, not
            # a sort. Ascending because posts arrive in created_at order: new entries are
            # appended and the index stays packed, where a descending one splits its first
            # page on each insert and sits half empty, doubling the walk to a deep page
            # (docs/performance.md).
            models.Index(fields=["created_at", "id"], name="post_newest_idx"),
        ]

    def __str__(self):
        return self.title


class Comment(Written):
    # Indexed by comment_post_newest_idx below, which leads with post.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments", db_index=False)
    body = models.TextField()

    objects = CommentQuerySet.as_manager()

    class Meta(Written.Meta):
        indexes = [
            # Ascending for the reason given on Post's.
            models.Index(fields=["created_at", "id"], name="comment_newest_idx"),
            # The per-post comment list: filter on post, newest first.
            models.Index(fields=["post", "-created_at", "-id"], name="comment_post_newest_idx"),
        ]

    def __str__(self):
        return f"Comment {self.pk} on post {self.post_id}"


class RowCount(models.Model):
    """The number of rows in one table, kept exact by that table's triggers (migration 0003)."""

    # Read on every list request instead of COUNT(*), which reads every row. Only the
    # triggers write here. `flush` may clear this table before or after the counted ones
    # (see the migration), so a missing row is counted with COUNT(*) (blog.db.counters).
    table = models.CharField(max_length=63, primary_key=True)
    rows = models.BigIntegerField()

    counted_models = (Post, Comment)

    def __str__(self):
        return f"{self.table}: {self.rows} rows"
