"""``DELETE /mlres/runs/<backend>/<id>`` against a real Jupyter server with the scripted backend."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.labserver import LabServer

NewRun = Callable[..., str]


def act(server: LabServer, run_id: str, action: str, **body: object) -> None:
    reply = server.request("POST", f"mlres-test/runs/{run_id}/{action}", body)
    assert reply.status == 200, reply.text


def listed(server: LabServer) -> list[str]:
    return [r["run_id"] for r in server.request("GET", "mlres/runs").json()["runs"]]


def test_a_finished_run_is_deleted_and_gone(server: LabServer, new_run: NewRun) -> None:
    run_id, other = new_run(), new_run()
    act(server, run_id, "finish", phase="Failed")
    reply = server.request("DELETE", f"mlres/runs/fake/{run_id}")
    assert reply.status == 200, reply.text
    assert reply.json() == {"deleted": run_id}
    assert server.request("GET", f"mlres/runs/fake/{run_id}").status == 404
    assert run_id not in listed(server)
    assert other in listed(server)
    again = server.request("DELETE", f"mlres/runs/fake/{run_id}")
    assert again.status == 404
    assert run_id in again.json()["message"]


def test_a_running_run_is_a_409_saying_how_to_cancel_it(server: LabServer, new_run: NewRun) -> None:
    run_id = new_run()
    act(server, run_id, "start")
    reply = server.request("DELETE", f"mlres/runs/fake/{run_id}")
    assert reply.status == 409
    assert reply.json() == {
        "message": f"run {run_id} is Running; cancel it first: %mlrun cancel {run_id} --backend fake"
    }
    assert server.request("GET", f"mlres/runs/fake/{run_id}").json()["run"]["phase"] == "Running"
    assert run_id in listed(server)


def test_unknown_runs_and_backends_are_json_errors(server: LabServer) -> None:
    for path, status in [
        ("mlres/runs/fake/never-existed", 404),
        ("mlres/runs/nosuchbackend/x", 404),
        ("mlres/runs/broken/x", 503),
    ]:
        reply = server.request("DELETE", path)
        assert reply.status == status, path
        assert reply.json()["message"]
        assert "Traceback" not in reply.text


def test_delete_with_a_session_cookie_but_no_xsrf_token_is_refused(
    server: LabServer, new_run: NewRun
) -> None:
    run_id = new_run()
    act(server, run_id, "finish")
    cookie = server.login_cookie()
    reply = server.request("DELETE", f"mlres/runs/fake/{run_id}", auth=False, headers={"Cookie": cookie})
    assert reply.status == 403
    assert run_id in listed(server)
