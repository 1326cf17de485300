"""Per-instance root listeners: one instance served at the root of its own loopback port,
exactly as EC2's 169.254.169.254 serves it (what a network namespace forwards to)."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from fakes.imds import ImdsClient
from sim.errors import FakeFailed
from tests.integration._imds_helpers import TOKEN_HEADER, TTL_HEADER, imds_call, token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def inst(imds):
    return imds.add_instance(role="web-role", listener=True, settings={"rate_limit": None})


def root(imds, inst) -> str:
    return imds.listener_url(inst["instance_id"])


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_listener_port_is_reported_and_serves_the_root_paths(imds, inst):
    port = inst["listener_port"]
    assert isinstance(port, int) and port > 0 and port != int(imds.url.rsplit(":", 1)[1])
    assert imds.instance(inst["instance_id"])["listener_port"] == port
    url = root(imds, inst)
    assert url == f"http://127.0.0.1:{port}/"
    tok = token(url)
    for path in ("/latest/meta-data/instance-id", "/2021-03-23/meta-data/instance-id"):
        assert imds_call(url, "GET", path, {TOKEN_HEADER: tok})[::2] == (200, inst["instance_id"]), path
    status, _, versions = imds_call(url, "GET", "/", {TOKEN_HEADER: tok})
    assert status == 200 and "latest" in versions.split("\n")
    # The identity document names this instance, not the server's default one.
    status, _, doc = imds_call(url, "GET", "/latest/dynamic/instance-identity/document", {TOKEN_HEADER: tok})
    assert json.loads(doc)["instanceId"] == inst["instance_id"]


def test_listener_has_no_prefix_paths_and_no_control_api(imds, inst):
    url = root(imds, inst)
    tok = token(url)
    assert imds_call(url, "GET", f"/{inst['instance_id']}/latest/meta-data/instance-id", {TOKEN_HEADER: tok})[0] == 404
    assert imds_call(url, "GET", "/__bootstorm/health")[0] in (401, 404)
    assert imds_call(url, "POST", "/__bootstorm/reset")[0] in (404, 405)
    assert any(i["instance_id"] == inst["instance_id"] for i in imds.instances())  # not reset


def test_tokens_of_the_listener_and_the_base_path_are_the_same_instance(imds, inst):
    tok = token(root(imds, inst))
    status, _, body = imds_call(imds.endpoint(inst["instance_id"]), "GET", "latest/meta-data/instance-id",
                                {TOKEN_HEADER: tok})
    assert (status, body) == (200, inst["instance_id"])
    other = imds.add_instance(listener=True, settings={"rate_limit": None})
    assert other["listener_port"] != inst["listener_port"]
    assert imds_call(root(imds, other), "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})[0] == 401


def test_listener_requests_are_logged_with_the_instance_id(imds, inst):
    since = imds.log()[-1]["seq"] if imds.log() else 0
    url = root(imds, inst)
    imds_call(url, "GET", "/latest/meta-data/ami-id", {TOKEN_HEADER: token(url)})
    entries = [e for e in imds.log(since=since) if e["path"] == "/latest/meta-data/ami-id"]
    assert [(e["instance_id"], e["status"]) for e in entries] == [(inst["instance_id"], 200)]


def test_faults_apply_on_the_listener(imds, inst):
    iid, url = inst["instance_id"], root(imds, inst)
    tok = token(url)
    imds.set_outage(True, iid)
    assert imds_call(url, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})[0] == 503
    imds.set_outage(False, iid)
    imds.set_limit(1, iid)
    statuses = [imds_call(url, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})[0] for _ in range(10)]
    assert 429 in statuses and set(statuses) <= {200, 429}
    imds.set_limit(None, iid)
    imds.configure(iid, connection_reset=True)
    with pytest.raises(ConnectionResetError):
        imds_call(url, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})
    imds.configure(iid, connection_reset=False, partition=True)
    with pytest.raises(TimeoutError):  # socket.timeout: nothing comes back, as on a cut link
        imds_call(url, "PUT", "/latest/api/token", {TTL_HEADER: "60"}, timeout=1.0)
    imds.configure(iid, partition=False)
    assert imds_call(url, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: tok})[0] == 200
    statuses = {e["status"] for e in imds.log(instance_id=iid)}
    assert {"reset", 503, 429} <= statuses
    wait_until(lambda: "partitioned" in {e["status"] for e in imds.log(instance_id=iid)}, timeout=30,
               what="the held request logged once the client gave up")


def test_delete_closes_the_listener_and_its_open_connections(imds, inst):
    port = inst["listener_port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("PUT", "/latest/api/token", headers={TTL_HEADER: "60"})
    resp = conn.getresponse()
    assert resp.status == 200
    tok = resp.read().decode()
    imds.remove_instance(inst["instance_id"])
    assert refused(port)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.request("GET", "/latest/meta-data/instance-id", headers={TOKEN_HEADER: tok})
        conn.getresponse().read()
    conn.close()
    with pytest.raises(FakeFailed, match="404"):
        imds.instance(inst["instance_id"])


def test_bad_listener_value_is_400(imds):
    with pytest.raises(FakeFailed, match="400.*listener: expected true or false"):
        imds._call("POST", "/instances", {"listener": "yes"})
    with pytest.raises(FakeFailed, match="no root listener"):
        imds.listener_url(imds.add_instance()["instance_id"])


def test_reset_and_shutdown_close_listeners(start_imds_server):
    config = {"default_instance": False,
              "instances": [{"instance_id": "i-0aaaaaaaaaaaaaaa2", "listener": True}]}
    server = start_imds_server(config=config)
    client = ImdsClient(server.url)
    port = client.instance("i-0aaaaaaaaaaaaaaa2")["listener_port"]  # opened at startup
    assert imds_call(f"http://127.0.0.1:{port}", "PUT", "/latest/api/token", {TTL_HEADER: "60"})[0] == 200
    extra = client.add_instance(listener=True)
    client.reset()  # back to the config: the extra instance's socket closes
    assert refused(extra["listener_port"])
    port = client.instance("i-0aaaaaaaaaaaaaaa2")["listener_port"]
    assert imds_call(f"http://127.0.0.1:{port}", "PUT", "/latest/api/token", {TTL_HEADER: "60"})[0] == 200
    server.stop()
    assert refused(port)


def test_botocore_fetches_credentials_from_the_listener_root(imds, inst):
    from botocore.utils import InstanceMetadataFetcher

    fetcher = InstanceMetadataFetcher(timeout=10, num_attempts=2, base_url=root(imds, inst).rstrip("/"))
    creds = fetcher.retrieve_iam_role_credentials()
    assert creds["role_name"] == "web-role" and creds["access_key"].startswith("ASIA")
