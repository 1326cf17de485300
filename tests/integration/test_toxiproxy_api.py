"""The Toxiproxy HTTP API: routes, status codes and JSON shapes, through the PyPI clients.

toxiproxy-python's ``APIConsumer`` is used for calls its objects do not wrap (it returns the
raw ``requests`` response and raises its own exceptions for 400, 404 and 409).
"""

from __future__ import annotations

import json
import socket

import pytest
import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from _toxiproxy_fixtures import connect, echo_port, echo_proxy, echo_server, recv_exactly, toxiproxy, toxiproxy_server  # noqa: F401

pytestmark = pytest.mark.integration


def test_version_is_upstream_json(toxiproxy):
    assert json.loads(toxiproxy.version()) == {"version": "2.9.0"}
    response = APIConsumer.get("/version")
    assert response.headers["Content-Type"].startswith("application/json")


def test_proxies_is_an_empty_object_then_lists_created_proxies(toxiproxy, echo_port):
    assert APIConsumer.get("/proxies").json() == {}
    created = APIConsumer.post("/proxies", json={"name": "db", "upstream": f"127.0.0.1:{echo_port}", "listen": "127.0.0.1:0"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"name", "listen", "upstream", "enabled", "toxics"}
    host, port = body["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # the real bound port, not 0
    assert body == {"name": "db", "listen": body["listen"], "upstream": f"127.0.0.1:{echo_port}", "enabled": True, "toxics": []}
    listed = toxiproxy.proxies()
    assert list(listed) == ["db"] and listed["db"].listen == body["listen"]
    assert APIConsumer.get("/proxies/db").json() == body


def test_create_errors(toxiproxy, echo_port):
    upstream = f"127.0.0.1:{echo_port}"
    with pytest.raises(InvalidToxic, match="missing required field: name"):
        APIConsumer.post("/proxies", json={"upstream": upstream})
    with pytest.raises(InvalidToxic, match="missing required field: upstream"):
        APIConsumer.post("/proxies", json={"name": "x"})
    with pytest.raises(InvalidToxic, match="bad request body"):
        APIConsumer.post("/proxies", data=b"{not json")
    first = toxiproxy.create(upstream=upstream, name="dup")
    with pytest.raises(ProxyExists):
        APIConsumer.post("/proxies", json={"name": "dup", "upstream": upstream})
    # The listen port is taken (by the first proxy): 500, and no proxy is left behind.
    taken = APIConsumer.post("/proxies", json={"name": "clash", "upstream": upstream, "listen": first.listen})
    assert taken.status_code == 500
    assert taken.json()["status"] == 500 and "address already in use" in taken.json()["error"]
    assert "clash" not in toxiproxy.proxies()


def test_non_loopback_addresses_are_refused(toxiproxy, echo_port):
    for body in (
        {"name": "wide", "upstream": f"127.0.0.1:{echo_port}", "listen": "0.0.0.0:0"},
        {"name": "far", "upstream": "10.1.2.3:80"},
    ):
        with pytest.raises(InvalidToxic, match="not a loopback address"):
            APIConsumer.post("/proxies", json=body)
    assert toxiproxy.proxies() == {}


def test_unknown_proxy_and_toxic_are_404_with_error_body(toxiproxy, echo_proxy):
    for call in (
        lambda: APIConsumer.get("/proxies/nope"),
        lambda: APIConsumer.delete("/proxies/nope"),
        lambda: APIConsumer.post("/proxies/nope", json={"enabled": False}),
        lambda: APIConsumer.get("/proxies/nope/toxics"),
        lambda: APIConsumer.get("/proxies/echo/toxics/nope"),
        lambda: APIConsumer.delete("/proxies/echo/toxics/nope"),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        body = json.loads(caught.value.args[0])
        assert body["status"] == 404 and body["error"] in ("proxy not found", "toxic not found")


def test_update_proxy_returns_json_and_delete_is_204(toxiproxy, echo_proxy):
    disabled = APIConsumer.post("/proxies/echo", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    patched = requests.patch(f"http://{APIConsumer.host}:{APIConsumer.port}/proxies/echo", json={"enabled": True}, timeout=10)
    assert patched.status_code == 200 and patched.json()["enabled"] is True
    assert patched.json()["listen"] == echo_proxy.listen  # re-enabled on the same port
    assert APIConsumer.delete("/proxies/echo").status_code == 204
    assert toxiproxy.proxies() == {}


def test_toxic_defaults_and_shapes(toxiproxy, echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 5})
    created = APIConsumer.post("/proxies/echo/toxics", json={"type": "slicer"})
    assert created.status_code == 200
    assert created.json() == {
        "name": "slicer_downstream",
        "type": "slicer",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"average_size": 0, "size_variation": 0, "delay": 0},
    }
    up = APIConsumer.post("/proxies/echo/toxics", json={"type": "timeout", "stream": "upstream", "toxicity": 0.5}).json()
    assert up["name"] == "timeout_upstream" and up["toxicity"] == 0.5
    listed = APIConsumer.get("/proxies/echo/toxics").json()
    assert [t["name"] for t in listed] == ["timeout_upstream", "latency_downstream", "slicer_downstream"]
    assert APIConsumer.get("/proxies/echo").json()["toxics"] == listed
    assert set(echo_proxy.toxics()) == {"timeout_upstream", "latency_downstream", "slicer_downstream"}
    assert echo_proxy.get_toxic("latency_downstream").attributes == {"latency": 5, "jitter": 0}


def test_toxic_errors(toxiproxy, echo_proxy):
    with pytest.raises(InvalidToxic, match="stream was invalid"):
        echo_proxy.add_toxic(type="latency", stream="sideways")
    with pytest.raises(InvalidToxic, match="invalid toxic type"):
        echo_proxy.add_toxic(type="earthquake")
    with pytest.raises(InvalidToxic, match="bad request body"):
        echo_proxy.add_toxic(type="latency", attributes={"latency": "slow"})
    echo_proxy.add_toxic(type="latency", name="shared")
    with pytest.raises(ProxyExists):  # names are unique across both streams
        echo_proxy.add_toxic(type="bandwidth", name="shared", stream="upstream")
    with pytest.raises(NotFound):
        APIConsumer.post("/proxies/nope/toxics", json={"type": "latency"})


def test_toxic_update_merges_attributes_and_delete_is_204(toxiproxy, echo_proxy):
    echo_proxy.add_toxic(type="latency", name="lag", attributes={"latency": 100, "jitter": 10})
    updated = APIConsumer.post("/proxies/echo/toxics/lag", json={"attributes": {"jitter": 3}})
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 100, "jitter": 3}
    url = f"http://{APIConsumer.host}:{APIConsumer.port}/proxies/echo/toxics/lag"
    patched = requests.patch(url, json={"toxicity": 0.25}, timeout=10).json()
    assert patched["toxicity"] == 0.25 and patched["attributes"] == {"latency": 100, "jitter": 3}
    assert APIConsumer.get("/proxies/echo/toxics/lag").json() == patched
    assert APIConsumer.delete("/proxies/echo/toxics/lag").status_code == 204
    assert echo_proxy.toxics() == {}


def test_reset_enables_proxies_and_removes_toxics(toxiproxy, echo_proxy):
    echo_proxy.add_toxic(type="latency", attributes={"latency": 1000})
    echo_proxy.disable()
    response = APIConsumer.post("/reset")
    assert response.status_code == 204 and response.content == b""
    state = APIConsumer.get("/proxies/echo").json()
    assert state["enabled"] is True and state["toxics"] == []
    with connect(echo_proxy) as sock:  # listening again, and no latency left
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4, timeout=0.9) == b"ping"


def test_populate_creates_keeps_and_replaces(toxiproxy, echo_port):
    upstream = f"127.0.0.1:{echo_port}"
    first = APIConsumer.post("/populate", json=[{"name": "a", "upstream": upstream}, {"name": "b", "upstream": upstream, "enabled": False}])
    assert first.status_code == 201
    proxies = {p["name"]: p for p in first.json()["proxies"]}
    assert proxies["a"]["enabled"] is True and proxies["b"]["enabled"] is False
    again = APIConsumer.post("/populate", json=[{"name": "a", "upstream": upstream, "listen": proxies["a"]["listen"]}])
    assert again.json()["proxies"][0]["listen"] == proxies["a"]["listen"]
    with pytest.raises(InvalidToxic, match="missing required field: upstream at proxy 2"):
        APIConsumer.post("/populate", json=[{"name": "c", "upstream": upstream}, {"name": "d"}])
    assert set(toxiproxy.proxies()) == {"a", "b"}  # nothing applied from the bad request
    made = toxiproxy.populate([{"name": "e", "upstream": upstream, "listen": "127.0.0.1:0"}])
    assert [p.name for p in made] == ["e"]


def test_browser_user_agent_is_forbidden(toxiproxy):
    for path in ("/version", "/proxies"):
        response = APIConsumer.get(path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
        assert response.status_code == 403
    assert APIConsumer.get("/proxies", headers={"User-Agent": "curl/8.0"}).status_code == 200


def test_chaostoolkit_actions_and_probes(toxiproxy, toxiproxy_server, echo_port):
    from chaostoxi.proxy import actions as proxy_actions
    from chaostoxi.proxy import probes
    from chaostoxi.toxic import actions as toxic_actions

    config = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": toxiproxy_server.port}
    assert proxy_actions.create_proxy("svc", "127.0.0.1", echo_port, listen_host="127.0.0.1", configuration=config)
    port = int(config["svc_PORT"])
    assert probes.proxy_exist("svc", configuration=config) is True
    assert probes.get_proxy_attribute("svc", "listen", configuration=config) == f"127.0.0.1:{port}"
    assert toxic_actions.create_latency_toxic("svc", "lag", latency=50, jitter=5, configuration=config)
    assert toxic_actions.create_bandwith_degradation_toxic("svc", "bw", rate=1000, configuration=config)
    assert toxic_actions.create_slow_connection_close_toxic("svc", "sc", delay=10, configuration=config)
    assert toxic_actions.create_timeout_toxic("svc", "to", timeout=0, configuration=config)
    assert toxic_actions.create_slicer_toxic("svc", "sl", 10, 2, 0, configuration=config)
    assert toxic_actions.create_limiter_toxic("svc", "lim", 100, configuration=config)
    names = [t["name"] for t in probes.get_proxy_attribute("svc", "toxics", configuration=config)]
    assert names == ["lag", "bw", "sc", "to", "sl", "lim"]
    assert toxic_actions.delete_toxic("svc", "to", configuration=config) is True
    assert proxy_actions.disable_proxy("svc", configuration=config) is True
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert proxy_actions.enable_proxy("svc", configuration=config) is True
    assert proxy_actions.reset(configuration=config) is True
    assert probes.get_proxy_attribute("svc", "toxics", configuration=config) == []
    proxy_actions.delete_proxy("svc", configuration=config)
    assert probes.proxy_exist("svc", configuration=config) is False


def test_every_toxiproxy_python_call_works_on_python_311(toxiproxy, echo_port):
    assert toxiproxy.running() is True
    proxy = toxiproxy.create(upstream=f"127.0.0.1:{echo_port}", name="all", enabled=False)
    assert proxy.enabled is False and toxiproxy.get_proxy("all").listen == proxy.listen
    assert toxiproxy.get_proxy("missing") is None
    proxy.enable()
    with proxy.down():
        assert APIConsumer.get("/proxies/all").json()["enabled"] is False
    assert APIConsumer.get("/proxies/all").json()["enabled"] is True
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    assert proxy.get_toxic("limit_data_downstream").attributes == {"bytes": 10}
    assert proxy.destroy_toxic("limit_data_downstream") is True
    assert toxiproxy.reset() is True
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}
    # Known gap of the client: a 500 (listen port taken) is not mapped to an exception, so
    # create() fails building a Proxy from the error body.
    holder = toxiproxy.create(upstream=f"127.0.0.1:{echo_port}", name="holder")
    with pytest.raises(KeyError):
        toxiproxy.create(upstream=f"127.0.0.1:{echo_port}", name="clash", listen=holder.listen)


def test_every_routed_answer_carries_a_request_id_and_go_error_headers(toxiproxy, echo_port):
    # Shopify/toxiproxy v2 api.go: r.Use(hlog.RequestIDHandler("request_id", "X-Toxiproxy-Request-Id"))
    # before stopBrowsersMiddleware; errors are written with Go's http.Error (text/plain, nosniff).
    import re

    xid = re.compile(r"^[0-9a-v]{20}$")  # github.com/rs/xid: 12 bytes in lowercase base32hex
    base = f"http://{APIConsumer.host}:{APIConsumer.port}"
    answers = [
        requests.get(base + "/version"),
        requests.post(base + "/proxies", json={"name": "db", "upstream": f"127.0.0.1:{echo_port}", "listen": "127.0.0.1:0"}),
        requests.get(base + "/proxies"),
        requests.get(base + "/proxies/missing"),
        requests.post(base + "/reset"),
        requests.get(base + "/proxies", headers={"User-Agent": "Mozilla/5.0"}),
    ]
    ids = [a.headers.get("X-Toxiproxy-Request-Id", "") for a in answers]
    assert all(xid.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)  # one per request
    assert answers[2].headers["Content-Type"] == "application/json"
    assert answers[2].text == json.dumps(answers[2].json(), separators=(",", ":"))  # json.Marshal: compact
    missing = answers[3]
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert missing.headers["X-Content-Type-Options"] == "nosniff"
    assert missing.text == '{"error":"proxy not found","status":404}\n'
    assert answers[4].status_code == 204 and "Content-Type" not in answers[4].headers
    browser = answers[5]
    assert (browser.status_code, browser.text) == (403, "User agent not allowed\n")
    assert browser.headers["X-Content-Type-Options"] == "nosniff"
    # Unrouted: gorilla/mux runs no middleware, so no request id; net/http's own 404 text.
    unrouted = requests.get(base + "/nothing-here")
    assert unrouted.status_code == 404 and unrouted.text == "404 page not found\n"
    assert "X-Toxiproxy-Request-Id" not in unrouted.headers
