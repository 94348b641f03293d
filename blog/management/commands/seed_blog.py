import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from blog import seeding
from blog.models import Post

# At verbosity 1 a long phase reports this often; at 2 and above, after every batch.
PROGRESS_INTERVAL = 5.0


class Command(BaseCommand):
    help = "Creates login accounts seed_user_<n>, posts and comments with realistic text, for demos and load tests."

    def add_arguments(self, parser):
        parser.add_argument(
            "--users", type=int, default=10,
            help="Number of accounts seed_user_1 … seed_user_N, reused if they exist. Defaults to 10.",
        )
        parser.add_argument("--posts", type=int, default=5000, help="Number of posts to add. Defaults to 5000.")
        parser.add_argument(
            "--comments", type=int, default=5000,
            help="Number of comments to add, on random existing posts. Defaults to 5000.",
        )
        parser.add_argument(
            "--seed", type=int,
            help="Random seed: the same options and seed on an empty database give the same content.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=seeding.DEFAULT_BATCH_SIZE,
            help=f"Rows per insert and per transaction. Defaults to {seeding.DEFAULT_BATCH_SIZE}.",
        )
        parser.add_argument(
            "--password",
            help=f"Password of every seed user. Defaults to ${seeding.PASSWORD_ENV_VAR}, "
            f'else "{seeding.DEFAULT_PASSWORD}" (for local use only).',
        )
        parser.add_argument(
            "--clear", action="store_true",
            help="Delete all posts and comments and the seed users first.",
        )
        parser.add_argument(
            "--if-empty", action="store_true",
            help="Seed only if the database has no posts; otherwise do nothing.",
        )
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive",
            help="Tells Django to NOT prompt the user for input of any kind.",
        )

    def handle(self, **options):
        self.verbosity = options["verbosity"]
        self.check_options(options)
        if options["if_empty"] and Post.objects.exists():
            self.log("The database has posts already: nothing seeded (--if-empty).")
            if seeding.seeded_users().filter(username=seeding.seed_username(1)).exists():
                self.log(
                    f"Log in as {seeding.seed_username(1)} with the password it was seeded with "
                    f'("{seeding.DEFAULT_PASSWORD}" unless --password or ${seeding.PASSWORD_ENV_VAR} said otherwise).'
                )
            return
        if options["clear"] and not self.confirm_clear(options["interactive"]):
            self.stdout.write("Seeding cancelled.")
            return

        started = self.last_report = time.monotonic()
        if options["clear"]:
            cleared = seeding.clear()
            self.log("Cleared {posts:,} posts, {comments:,} comments and {users:,} seed users.".format(**cleared))
        seeded = seeding.seed(
            users=options["users"], posts=options["posts"], comments=options["comments"],
            password=seeding.seed_password(options["password"]),
            seed=options["seed"], batch_size=options["batch_size"], progress=self.report,
        )
        if seeded.users:
            self.log(f"Log in as {self.usernames(seeded.users)} ({seeded.users_created:,} new) "
                     f"with {self.password_source(options['password'])}.")
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(
                f"Seeded {seeded.users:,} users, {seeded.posts:,} posts and {seeded.comments:,} comments "
                f"in {time.monotonic() - started:.1f} s."
            ))

    def check_options(self, options):
        for name in ("users", "posts", "comments"):
            if options[name] < 0:
                raise CommandError(f"--{name} must be >= 0.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be >= 1.")
        if options["password"] == "":
            raise CommandError("--password must not be empty; leave it out to use the default.")
        if options["clear"] and options["if_empty"]:
            raise CommandError("--clear and --if-empty contradict each other: pass one of them.")
        if (options["posts"] or options["comments"]) and not options["users"]:
            raise CommandError("Posts and comments need authors: pass --users 1 or more.")
        if options["comments"] and not options["posts"] and (options["clear"] or not Post.objects.exists()):
            raise CommandError("There are no posts to attach comments to: pass --posts 1 or more.")

    def confirm_clear(self, interactive):
        if not interactive:
            return True
        answer = input(
            "You have requested --clear. This will IRREVERSIBLY DELETE every post and comment in the "
            f'"{connection.settings_dict["NAME"]}" database, and the seed users ({seeding.USERNAME_PREFIX}<n>).\n'
            "Are you sure you want to do this?\n\n"
            "    Type 'yes' to continue, or 'no' to cancel: "
        )
        return answer == "yes"

    def report(self, progress):
        now = time.monotonic()
        phase = progress.phase.capitalize()
        if progress.done == progress.total:
            self.log(f"{phase}: {progress.done:,} rows in {progress.seconds:.2f} s ({progress.rate:,.0f} rows/s).")
        elif self.verbosity >= 2 or now - self.last_report >= PROGRESS_INTERVAL:
            self.log(f"{phase}: {progress.done:,} of {progress.total:,} rows, {progress.rate:,.0f} rows/s.")
        else:
            return
        self.last_report = now

    def usernames(self, count):
        first = seeding.seed_username(1)
        return first if count == 1 else f"{first} … {seeding.seed_username(count)}"

    def password_source(self, password):
        if password:
            return "the password given by --password"
        if os.environ.get(seeding.PASSWORD_ENV_VAR):
            return f"the password in ${seeding.PASSWORD_ENV_VAR}"
        return f'password "{seeding.DEFAULT_PASSWORD}"'

    def log(self, message):
        if self.verbosity >= 1:
            self.stdout.write(message)
