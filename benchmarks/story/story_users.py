"""The tutorial's Locust scenario for `make story`: the post list, and post details, on one stage.

    locust -f benchmarks/story/story_users.py --host URL --story-stage 1 [--blog-capacity ...]

It brings loadtests/locustfile.py along (imported, so that its events and options apply:
the start-up check, the capacity search, the verdict) but runs only StoryUser, whose
requests go to the stage's URLs. The API must be served with benchmarks.story.settings.
"""
import random

from locust import FastHttpUser, events, task

from loadtests import locustfile as blog

PREFIXES = {"1": "/story/1", "2": "/story/2", "3": "/story/3", "4": "/blog"}


@events.init_command_line_parser.add_listener
def add_story_options(parser):
    parser.add_argument("--story-stage", choices=sorted(PREFIXES), default="4",
                        help="The tutorial's stage to load: 1-3 (benchmarks/story/views.py) or 4, this API.")
    parser.add_argument("--story-only-list", action="store_true", default=False,
                        help="Only the list, as the tutorial's own runs did.")


class StoryUser(FastHttpUser):
    """A reader of the tutorial's blog: the list of posts, then some of the posts it shows."""

    def wait_time(self):
        options = self.environment.parsed_options
        seconds = random.uniform(options.blog_min_wait, options.blog_max_wait)
        blog.METER.think += seconds  # the capacity search checks each step against Little's law
        return seconds

    def on_start(self):
        self.prefix = PREFIXES[self.environment.parsed_options.story_stage]
        self.post_ids = []

    @task(1)
    def list_posts(self):
        with self.rest("GET", f"{self.prefix}/posts", name="posts") as resp:
            if resp.status_code != 200:
                raise blog.WrongResponse(f"expected 200, got {resp.status_code}")
            posts = resp.js if isinstance(resp.js, list) else resp.js["results"]
            if not posts:
                raise blog.WrongResponse("no posts in the list")
            self.post_ids = [post["id"] for post in posts[:100]]

    @task(3)
    def open_post(self):
        if self.environment.parsed_options.story_only_list or not self.post_ids:
            return self.list_posts()
        post_id = random.choice(self.post_ids)
        with self.rest("GET", f"{self.prefix}/post/{post_id}", name="post") as resp:
            if resp.status_code != 200:
                raise blog.WrongResponse(f"expected 200, got {resp.status_code}")
            if resp.js["id"] != post_id:
                raise blog.WrongResponse(f"asked for {post_id}, got {resp.js['id']}")
