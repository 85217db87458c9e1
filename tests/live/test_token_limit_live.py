"""The token limit holds when many requests to make one run at once: 30 threads, each with its
own connection to the stack's real database (a file, as the web and worker processes share it)."""

from __future__ import annotations

import pytest

from tests.live.live_stack import create_user, live_stack

RACE = """
import threading
from django.contrib.auth import get_user_model
from django.db import connection
from searchapp.tokens import TokenError, create_token
user = get_user_model().objects.get(username="carol")
barrier = threading.Barrier(30)
outcomes = []
def make(i):
    try:
        barrier.wait()
        create_token(user, f"t{i}")
        outcomes.append("made")
    except TokenError:
        outcomes.append("refused")
    except Exception as exc:
        outcomes.append(type(exc).__name__)
    finally:
        connection.close()
threads = [threading.Thread(target=make, args=(i,)) for i in range(30)]
[t.start() for t in threads]
[t.join() for t in threads]
from searchapp.models import ApiToken
print(outcomes.count("made"), outcomes.count("refused"), ApiToken.objects.count())
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("tokens"), worker=False) as s:
        create_user(s, "carol", "carol-password-1")
        yield s


def test_thirty_creations_at_once_make_exactly_the_limit(stack):
    made, refused, stored = stack.manage("shell", "-c", RACE).strip().splitlines()[-1].split()
    assert (made, refused, stored) == ("20", "10", "20")
