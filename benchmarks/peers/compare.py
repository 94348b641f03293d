"""Whether a peer answers with this API's JSON, but for the two forms in which the peers may differ.

Normalised, and nothing else:
- links (`url`, `next`, `previous`): every server writes its own host and port, and
  django-bolt writes `url` as a path: links are compared by path and query (its
  parameters in any order).
- `created_at`: django-ninja's JSON encoder (Django's) writes milliseconds, the others
  microseconds: datetimes are compared as instants, to the millisecond.
Everything else must be equal: the same keys, the same values, lists (so ids) in the same order.
"""
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

LINKS = {"url", "next", "previous"}
DATETIMES = {"created_at"}
MISSING = "(missing)"


def normalised(value, key=None):
    """`value` with its links reduced to path and query and its datetimes to UTC milliseconds."""
    if isinstance(value, dict):
        return {name: normalised(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [normalised(item) for item in value]
    if isinstance(value, str) and key in LINKS:
        parts = urlsplit(value)
        return parts.path + (f"?{urlencode(sorted(parse_qsl(parts.query)))}" if parts.query else "")
    if isinstance(value, str) and key in DATETIMES:
        moment = datetime.fromisoformat(value).astimezone(timezone.utc)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()
    return value


def differences(expected, actual, where="$"):
    """Each place where `actual` differs from `expected`: (JSON path, expected value, actual value)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(key for key in actual if key not in expected)]:
            yield from differences(expected.get(key, MISSING), actual.get(key, MISSING), f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (expected_item, actual_item) in enumerate(zip(expected, actual)):
            yield from differences(expected_item, actual_item, f"{where}[{index}]")
    elif expected != actual or type(expected) is not type(actual):
        yield where, expected, actual


def compare(ours, theirs):
    """(What still differs once normalised, as lines; the first raw difference the
    normalising forgave for each field, as {field: (ours, theirs)})."""
    remaining = [f"{where}: {actual!r}, where this API has {expected!r}"
                 for where, expected, actual in differences(normalised(ours), normalised(theirs))]
    forgiven = {}
    for where, expected, actual in differences(ours, theirs):
        field = where.rsplit(".", 1)[-1]
        if not (field in LINKS and only_origins_differ(expected, actual)):
            forgiven.setdefault(field, (expected, actual))
    return remaining, forgiven if not remaining else {}


def only_origins_differ(ours, theirs):
    """Whether two links differ in host and port alone, as any two servers' links do."""
    links = [urlsplit(link) for link in (ours, theirs) if isinstance(link, str)]
    return len(links) == 2 and all(link.netloc for link in links) and links[0][2:] == links[1][2:]
