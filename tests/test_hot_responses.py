"""The in-memory answer cache in front of the application (api.cache.HotResponses).

An ASGI application that counts its calls stands in for the API, so that each test can
see whether a request reached it or was replayed from memory.
"""

from __future__ import annotations

import asyncio

from api.cache import HOT_MAX_ENTRY, HotResponses


class CountingApp:
    """Answers every GET with a body naming the call; 200 with an ETag unless told otherwise."""

    def __init__(self, status: int = 200, etag: bool = True, size: int = 10, streamed: bool = False):
        self.calls, self.status, self.etag, self.size, self.streamed = 0, status, etag, size, streamed

    async def __call__(self, scope, receive, send):
        self.calls += 1
        headers = [(b"content-type", b"text/csv"), (b"x-cache", b"miss")]
        if self.etag:
            headers.append((b"etag", b'W/"abc"'))
        body = f"call {self.calls} ".encode().ljust(self.size, b".")
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        if self.streamed:  # two chunks, as a StreamingResponse sends them
            await send({"type": "http.response.body", "body": body[:3], "more_body": True})
            await send({"type": "http.response.body", "body": body[3:], "more_body": False})
        else:
            await send({"type": "http.response.body", "body": body, "more_body": False})


def request(hot, path="/data", query=b"", headers=(), method="GET"):
    """(status, headers as a dict, body) of one request through `hot`."""
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(hot(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def hot_over(app, token="1", size=1 << 20):
    state = {"token": token}
    return HotResponses(app, lambda: state["token"], size), state


def test_a_repeated_request_is_replayed_without_reaching_the_application():
    app = CountingApp(streamed=True)
    hot, _ = hot_over(app)
    first = request(hot, query=b"startPeriod=2024", headers=[("Accept", "text/csv")])
    again = request(hot, query=b"startPeriod=2024", headers=[("Accept", "text/csv")])
    assert app.calls == 1
    assert again[2] == first[2] == b"call 1 ..."
    assert first[1][b"x-cache"] == b"miss" and again[1][b"x-cache"] == b"hit"
    assert again[1][b"content-length"] == b"10"  # a streamed answer replays whole
    assert again[1][b"etag"] == first[1][b"etag"]


def test_another_representation_or_query_reaches_the_application():
    app = CountingApp()
    hot, _ = hot_over(app)
    request(hot, headers=[("Accept", "text/csv")])
    request(hot, headers=[("Accept", "application/json")])  # another Accept
    request(hot, headers=[("Accept", "text/csv"), ("Accept-Language", "az")])  # another language
    request(hot, headers=[("Accept", "text/csv"), ("Accept-Encoding", "gzip")])  # another coding
    request(hot, query=b"startPeriod=2020", headers=[("Accept", "text/csv")])  # another query
    request(hot, path="/other", headers=[("Accept", "text/csv")])  # another path
    assert app.calls == 6
    request(hot, headers=[("Accept", "text/csv")])
    assert app.calls == 6


def test_a_new_state_of_the_store_is_never_answered_from_before():
    app = CountingApp()
    hot, state = hot_over(app)
    request(hot)
    state["token"] = "2"  # a release was published
    assert request(hot)[2].startswith(b"call 2")
    state["token"] = None  # the state must be read again: through the application
    request(hot)
    request(hot)
    assert app.calls == 4


def test_conditional_requests_errors_and_answers_without_etag_pass_through():
    app = CountingApp()
    hot, _ = hot_over(app)
    for _ in range(2):
        request(hot, headers=[("If-None-Match", 'W/"abc"')])
    assert app.calls == 2
    for kind in (CountingApp(status=404), CountingApp(etag=False)):
        hot, _ = hot_over(kind)
        request(hot)
        request(hot)
        assert kind.calls == 2


def test_large_answers_are_not_kept_and_memory_is_bounded():
    big = CountingApp(size=HOT_MAX_ENTRY + 1)
    hot, _ = hot_over(big)
    request(hot)
    request(hot)
    assert big.calls == 2

    app = CountingApp(size=400)
    hot, _ = hot_over(app, size=1000)  # room for two answers of 400 bytes
    for path in ("/a", "/b", "/c"):
        request(hot, path=path)
    assert hot.used <= 1000 and len(hot.entries) == 2
    request(hot, path="/c")
    assert app.calls == 3  # the most recent is kept
    request(hot, path="/a")
    assert app.calls == 4  # the least recent went first


def test_off_when_the_size_is_zero_and_for_other_methods():
    app = CountingApp()
    hot, _ = hot_over(app, size=0)
    request(hot)
    request(hot)
    assert app.calls == 2
    hot, _ = hot_over(app)
    request(hot, method="POST")
    request(hot, method="POST")
    assert app.calls == 4


def test_another_host_reaches_the_application():
    # Data messages name their schema by absolute URL: an answer for one host name is not
    # replayed to a request made under another.
    app = CountingApp()
    hot, _ = hot_over(app)
    request(hot, headers=[("Host", "stat.example.az")])
    request(hot, headers=[("Host", "127.0.0.1:8000")])
    request(hot, headers=[("Host", "stat.example.az")])
    assert app.calls == 2
