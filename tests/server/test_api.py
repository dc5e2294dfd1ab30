"""The sidebar's REST API against a real Jupyter server (subprocess) with a scripted backend."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.labserver import LabServer

NewRun = Callable[..., str]


def act(server: LabServer, run_id: str, action: str, **body: object) -> None:
    reply = server.request("POST", f"mlres-test/runs/{run_id}/{action}", body)
    assert reply.status == 200, reply.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "mlres/runs"),
        ("GET", "mlres/settings"),
        ("GET", "mlres/runs/fake/x"),
        ("GET", "mlres/runs/fake/x/log"),
        ("GET", "mlres/runs/fake/x/log/follow"),
        ("POST", "mlres/runs/fake/x/cancel"),
        ("DELETE", "mlres/runs/fake/x"),
        ("POST", "mlres/preview"),
    ],
)
def test_every_endpoint_requires_jupyter_auth(server: LabServer, method: str, path: str) -> None:
    assert server.request(method, path, auth=False).status == 403


def test_post_with_a_session_cookie_but_no_xsrf_token_is_refused(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    cookie = server.login_cookie()
    # The cookie alone authenticates a GET ...
    assert server.request("GET", "mlres/runs", auth=False, headers={"Cookie": cookie}).status == 200
    # ... but a POST also needs the XSRF token the page would send.
    reply = server.request("POST", f"mlres/runs/fake/{run_id}/cancel", auth=False, headers={"Cookie": cookie})
    assert reply.status == 403
    assert server.request("GET", f"mlres/runs/fake/{run_id}").json()["run"]["phase"] == "Pending"


def test_lists_runs_newest_first_and_reports_an_unreachable_backend(
    server: LabServer, new_run: NewRun
) -> None:
    older, newer = new_run("prep"), new_run("train", replicas=2)
    body = server.request("GET", "mlres/runs").json()
    ids = [r["run_id"] for r in body["runs"]]
    assert ids.index(newer) < ids.index(older)
    listed = next(r for r in body["runs"] if r["run_id"] == newer)
    assert listed["backend"] == "fake"
    assert listed["function"] == "train"
    assert [r["phase"] for r in listed["replicas"]] == ["Pending", "Pending"]
    states = {b["name"]: b for b in body["backends"]}
    assert states["fake"]["available"] is True
    assert states["broken"]["available"] is False
    assert "refused the connection" in states["broken"]["error"]


def test_one_run_shows_replicas_events_and_notebook(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run("train", replicas=2, notebook="work/train.ipynb")
    act(server, run_id, "start")
    act(server, run_id, "replica", index=1, phase="Failed", reason="OOMKilled")
    body = server.request("GET", f"mlres/runs/fake/{run_id}").json()
    assert body["run"]["notebook"] == "work/train.ipynb"
    assert [(r["index"], r["phase"]) for r in body["run"]["replicas"]] == [(0, "Running"), (1, "Failed")]
    reasons = [(e["reason"], e["replica"]) for e in body["events"]]
    assert ("Submitted", None) in reasons
    assert ("OOMKilled", 1) in reasons


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("mlres/runs/fake/no-such-run", 404),
        ("mlres/runs/fake/no-such-run/log", 404),
        ("mlres/runs/fake/no-such-run/log/follow", 404),
        ("mlres/runs/nosuchbackend/x", 404),
        ("mlres/runs/broken/x", 503),
        ("mlres/runs/broken/x/log/follow", 503),
    ],
)
def test_error_codes_come_with_a_json_message(server: LabServer, path: str, status: int) -> None:
    reply = server.request("GET", path)
    assert reply.status == status
    assert reply.json()["message"]
    assert "Traceback" not in reply.text


def test_cancel_of_an_unknown_run_is_404(server: LabServer) -> None:
    reply = server.request("POST", "mlres/runs/fake/never-existed/cancel")
    assert reply.status == 404
    assert "never-existed" in reply.json()["message"]


def test_a_bad_query_argument_is_a_400_naming_it(server: LabServer, new_run: NewRun) -> None:
    reply = server.request("GET", f"mlres/runs/fake/{new_run()}/log?tail=lots")
    assert reply.status == 400
    assert reply.json()["path"] == "tail"
    assert reply.json()["value"] == "lots"


def test_log_tail_and_pages_carry_offsets(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "log", lines=[f"line {i}" for i in range(10)])
    tail = server.request("GET", f"mlres/runs/fake/{run_id}/log?tail=3").json()
    assert [(ln["offset"], ln["text"]) for ln in tail["lines"]] == [
        (7, "line 7"),
        (8, "line 8"),
        (9, "line 9"),
    ]
    assert tail["next_offset"] == 10
    page = server.request("GET", f"mlres/runs/fake/{run_id}/log?offset=8").json()
    assert [ln["text"] for ln in page["lines"]] == ["line 8", "line 9"]
    assert page["next_offset"] == 10
    assert server.request("GET", f"mlres/runs/fake/{run_id}/log?offset=10").json() == {
        "lines": [],
        "next_offset": 10,
    }


def test_html_in_a_log_line_comes_back_verbatim(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "log", lines=["<img src=x onerror=alert(1)>"], stream="stderr")
    [line] = server.request("GET", f"mlres/runs/fake/{run_id}/log").json()["lines"]
    assert line["text"] == "<img src=x onerror=alert(1)>"
    assert line["stream"] == "stderr"


def test_follow_streams_new_lines_from_an_offset_until_the_run_ends(
    server: LabServer, new_run: NewRun
) -> None:
    run_id = new_run()
    act(server, run_id, "start")
    act(server, run_id, "log", lines=["a", "b", "c"])
    events = server.stream(f"mlres/runs/fake/{run_id}/log/follow?offset=1")
    name, data = next(events)
    assert name == "lines"
    assert [(ln["offset"], ln["text"]) for ln in data["lines"]] == [(1, "b"), (2, "c")]
    act(server, run_id, "log", lines=["d"], replica=1)
    name, data = next(events)
    assert [(ln["offset"], ln["text"], ln["replica"]) for ln in data["lines"]] == [(3, "d", 1)]
    act(server, run_id, "finish")
    assert next(events) == ("end", {"reason": "finished", "next_offset": 4})
    assert list(events) == []


def test_follow_with_tail_starts_from_the_last_lines(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "log", lines=[str(i) for i in range(100)])
    act(server, run_id, "finish")
    events = list(server.stream(f"mlres/runs/fake/{run_id}/log/follow?tail=2"))
    assert events[0][0] == "lines"
    assert [ln["text"] for ln in events[0][1]["lines"]] == ["98", "99"]
    assert events[-1] == ("end", {"reason": "finished", "next_offset": 100})


def test_cancel_stops_the_run_and_ends_its_follow_stream(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "start")
    act(server, run_id, "log", lines=["working"])
    events = server.stream(f"mlres/runs/fake/{run_id}/log/follow")
    assert next(events)[1]["lines"][0]["text"] == "working"
    reply = server.request("POST", f"mlres/runs/fake/{run_id}/cancel")
    assert reply.status == 200
    assert reply.json()["run"]["phase"] == "Cancelled"
    assert next(events) == ("end", {"reason": "finished", "next_offset": 1})
    assert server.request("GET", f"mlres/runs/fake/{run_id}").json()["run"]["phase"] == "Cancelled"


def test_download_is_the_full_log_as_text(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "log", lines=[f"row {i}" for i in range(5000)])
    act(server, run_id, "log", lines=["oops"], replica=1, stream="stderr")
    reply = server.request("GET", f"mlres/runs/fake/{run_id}/log?download=1")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert f'filename="{run_id}.log"' in reply.headers["Content-Disposition"]
    rows = reply.text.splitlines()
    assert len(rows) == 5001
    assert rows[0].endswith("[0/stdout] row 0")
    assert rows[-1].endswith("[1/stderr] oops")


def test_no_secret_value_in_any_response(server: LabServer, new_run: NewRun) -> None:
    secret = "V3IO-SECRET-d41d8cd98f00"
    run_id = new_run("etl", secret=secret)
    act(server, run_id, "log", lines=["hello"])
    act(server, run_id, "finish")
    for path in [
        "mlres/runs",
        "mlres/settings",
        f"mlres/runs/fake/{run_id}",
        f"mlres/runs/fake/{run_id}/log",
        f"mlres/runs/fake/{run_id}/log?download=1",
        f"mlres/runs/fake/{run_id}/log/follow",
    ]:
        reply = server.request("GET", path)
        deadline = time.monotonic() + 30
        while reply.status == 503 and time.monotonic() < deadline:
            # Follow streams that an earlier test's client left are released asynchronously; the
            # server allows only a few at once (see the bounded-streams test).
            time.sleep(0.2)
            reply = server.request("GET", path)
        assert reply.status == 200, path
        assert secret not in reply.text, path


def test_settings_describe_the_form(server: LabServer) -> None:
    body = server.request("GET", "mlres/settings").json()
    fields = {f["name"]: f for f in body["fields"]}
    assert {"cpu", "memory", "gpus", "replicas", "spot", "priority"} <= set(fields)
    assert fields["spot"]["choices"] == ["allow", "constrain", "prevent", "none"]
    assert body["backends"] == ["fake", "broken"]
    assert body["defaults"]["spot"] == "prevent"


def test_preview_parses_a_line_into_the_form_values(server: LabServer) -> None:
    reply = server.request(
        "POST", "mlres/preview", {"line": "%%mlrun train --cpu 500m:1 --gpus 1 --spot allow"}
    )
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["line"] == "%%mlrun train --cpu 500m:1 --gpus 1 --spot allow"
    assert body["values"]["cpu"] == "500m:1"
    assert body["values"]["gpus"] == "1"
    assert body["values"]["spot"] == "allow"
    assert body["values"]["memory"] == ""
    assert "kind: Job" in body["yaml"]
    assert "nvidia.com/gpu" in body["yaml"]


def test_preview_applies_the_form_and_keeps_the_options_it_does_not_show(server: LabServer) -> None:
    reply = server.request(
        "POST",
        "mlres/preview",
        {
            "line": "%%mlrun train --cpu 1 --volume pvc:data:/data --env MODE=fast",
            "values": {"cpu": "", "memory": "2Gi", "replicas": "2"},
            "code": "print('hello')",
        },
    )
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["line"] == "%%mlrun train --memory 2Gi --replicas 2 --volume pvc:data:/data --env MODE=fast"
    assert "completions: 2" in body["yaml"]
    assert "hello" in body["yaml"]  # the cell's code is in the ConfigMap


@pytest.mark.parametrize(
    ("body", "path", "field"),
    [
        ({"line": "%%mlrun train", "values": {"memory": "2 GB"}}, "--memory", "memory"),
        ({"line": "%%mlrun train --cpu lots"}, "--cpu", "cpu"),
        ({"line": "%%mlrun train", "values": {"cpu": "4:2"}}, "--cpu", "cpu"),
        ({"line": "%%mlrun train --spot sometimes"}, "--spot", "spot"),
        ({"line": "%%mlrun train --gpu 1"}, "--gpu", ""),
        ({"line": "print(1)"}, "line", ""),
        ({"line": "%%mlrun", "values": {"colour": "red"}}, "values.colour", ""),
    ],
)
def test_preview_of_an_invalid_spec_is_a_400_naming_the_field(
    server: LabServer, body: dict[str, object], path: str, field: str
) -> None:
    reply = server.request("POST", "mlres/preview", body)
    assert reply.status == 400, reply.text
    error = reply.json()
    assert error["path"] == path
    assert error["field"] == field
    assert error["message"].startswith(path)


def test_preview_needs_a_json_object(server: LabServer) -> None:
    reply = server.request("POST", "mlres/preview", ["not", "an", "object"])
    assert reply.status == 400
    assert reply.json()["path"] == "body"


# Last in the module: the streams it drops are released asynchronously.
def test_follow_streams_are_bounded_and_released_when_the_browser_leaves(
    server: LabServer, new_run: NewRun
) -> None:
    run_id = new_run()
    act(server, run_id, "start")
    path = f"mlres/runs/fake/{run_id}/log/follow"

    def open_when_free() -> object:
        deadline = time.monotonic() + 30
        while (reply := server.open_stream(path, expect=(200, 503))) is None:
            assert time.monotonic() < deadline, "streams whose client left were never released"
            time.sleep(0.2)
        return reply

    for _ in range(3):
        opened = [open_when_free() for _ in range(4)]
        assert server.open_stream(path, expect=503) is None  # the test server allows 4 at once
        for reply in opened:
            reply.close()  # type: ignore[attr-defined]  # the browser leaves
