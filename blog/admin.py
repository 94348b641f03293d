from django.contrib import admin

from .models import Comment, Post


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "user", "created_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["title"]
    # A COUNT(*) over a million rows on every page view is the admin's slowest query.
    show_full_result_count = False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "post", "user", "created_at"]
    list_select_related = ["user", "post"]
    raw_id_fields = ["post", "user"]
    show_full_result_count = False
