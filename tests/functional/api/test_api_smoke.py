from tests.functional.api.conftest import Api


def test_signup_login_me_and_project_crud(api: Api) -> None:
    token = api.user("ada@example.com")
    status, me, headers = api.call("GET", "/me", token=token)
    assert status == 200 and me["email"] == "ada@example.com"
    assert headers["X-RateLimit-Limit"] == "300"  # reads count in the "read" bucket
    status, project, headers = api.call("POST", "/projects", {"name": "shop"}, token=token)
    assert status == 201, project
    assert headers["X-RateLimit-Limit"] == "50"  # changes in the "default" one
    status, listed, _ = api.call("GET", "/projects", token=token)
    assert [p["id"] for p in listed["projects"]] == [project["id"]]
    status, got, _ = api.call("GET", f"/projects/{project['id']}", token=token)
    assert got == project
    status, patched, _ = api.call(
        "PATCH", f"/projects/{project['id']}", {"name": "shop2"}, token=token
    )
    assert status == 200 and patched["name"] == "shop2"
    status, _, _ = api.call("DELETE", f"/projects/{project['id']}", token=token)
    assert status == 204
    status, body, _ = api.call("GET", f"/projects/{project['id']}", token=token)
    assert status == 404 and body["error"]["code"] == "not_found"
