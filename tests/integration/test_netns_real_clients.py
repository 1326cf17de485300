"""Real EC2 clients nobody here wrote, unmodified, inside an instance's network namespace.

- Debian's ``amazon-ec2-utils`` ``ec2-metadata`` (Amazon's bash script; it hard-codes
  http://169.254.169.254 and IMDSv2): every option its ``--help`` lists, one by one, plus
  ``--all`` and no option; each value must be the instance's own.
- cloud-init's EC2 datasource (Debian's ``cloud-init``, run by the system python3 that has
  it): ``DataSourceEc2.get_data()`` crawls meta-data, user-data and the identity document.

Both are Debian packages (.ci/run installs them with apt-get); on a machine without them the
tests install them when root, else skip saying which package is missing. The PyPI
``ec2-metadata`` package is tested with the IMDS (tests/integration/test_imds_*).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
import urllib.error
import urllib.request

import pytest

from tests.integration._netns_fixtures import isolated, netns_required  # noqa: F401

IID = "i-0c0ffee0000000001"
USER_DATA = "#!/bin/bash\necho booted > /tmp/booted\n"
SYSTEM_PYTHON = "/usr/bin/python3"


def _debian_package(package: str, probe) -> None:
    """Install ``package`` with apt-get if ``probe()`` is false; skip when that is impossible."""
    if probe():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip(f"Debian package {package} is not installed and there is no apt-get here")
    policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    if "Candidate: (none)" in policy or not policy.strip():
        pytest.skip(f"the Debian archive configured here has no package {package}")
    done = subprocess.run([apt, "install", "-y", "-qq", "--no-install-recommends", package],
                          capture_output=True, text=True, timeout=900,
                          env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if done.returncode != 0 or not probe():
        pytest.skip(f"could not install Debian package {package}: {done.stderr.strip()[-300:]}")


@pytest.fixture
def ec2_metadata(netns_required) -> str:
    _debian_package("amazon-ec2-utils", lambda: shutil.which("ec2-metadata") is not None)
    return shutil.which("ec2-metadata")


@pytest.fixture
def cloud_init(netns_required) -> str:
    def present() -> bool:
        return shutil.which(SYSTEM_PYTHON) is not None and subprocess.run(
            [SYSTEM_PYTHON, "-c", "import cloudinit.sources.DataSourceEc2"], capture_output=True).returncode == 0
    _debian_package("cloud-init", present)
    return SYSTEM_PYTHON


def _oracle(stack, instance_id: str, path: str) -> str | None:
    """What the IMDS serves ``path`` (under ``/latest/``) for the instance, asked from the
    host at its base path; None where it serves nothing (ec2-metadata: "not available")."""
    base = f"{stack.endpoints()['imds_direct']}/{instance_id}/latest"
    put = urllib.request.Request(f"{base}/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(put, timeout=10) as resp:
        token = resp.read().decode()
    req = urllib.request.Request(f"{base}/{path}", headers={"X-aws-ec2-metadata-token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode()
    except urllib.error.HTTPError as exc:
        exc.close()
        return None
    return body or None


# ec2-metadata's options: (short, long) -> (label it prints, path under /latest/) for the plain
# ones, or the list printers; taken from the script, checked against its --help below.
PLAIN = {
    ("-a", "--ami-id"): ("ami-id", "meta-data/ami-id"),
    ("-l", "--ami-launch-index"): ("ami-launch-index", "meta-data/ami-launch-index"),
    ("-m", "--ami-manifest-path"): ("ami-manifest-path", "meta-data/ami-manifest-path"),
    ("-n", "--ancestor-ami-ids"): ("ancestor-ami-ids", "meta-data/ancestor-ami-ids"),
    ("-i", "--instance-id"): ("instance-id", "meta-data/instance-id"),
    ("-t", "--instance-type"): ("instance-type", "meta-data/instance-type"),
    ("-h", "--local-hostname"): ("local-hostname", "meta-data/local-hostname"),
    ("-o", "--local-ipv4"): ("local-ipv4", "meta-data/local-ipv4"),
    ("-k", "--kernel-id"): ("kernel-id", "meta-data/kernel-id"),
    ("-z", "--availability-zone"): ("placement", "meta-data/placement/availability-zone"),
    ("-c", "--product-codes"): ("product-codes", "meta-data/product-codes"),
    ("-p", "--public-hostname"): ("public-hostname", "meta-data/public-hostname"),
    ("-v", "--public-ipv4"): ("public-ipv4", "meta-data/public-ipv4"),
    # The script asks for these two as /latest//meta-data/...: EC2 answers that double slash.
    ("-r", "--ramdisk-id"): ("ramdisk-id", "meta-data/ramdisk-id"),
    ("-e", "--reservation-id"): ("reservation-id", "meta-data/reservation-id"),
    ("-s", "--security-groups"): ("security-groups", "meta-data/security-groups"),
    ("-d", "--user-data"): ("user-data", "user-data"),
}
LISTS = {("-b", "--block-device-mapping"): "block-device-mapping",
         ("-u", "--public-keys"): "public-keys", ("-g", "--tags"): "tags"}


def _expected_list(stack, iid: str, kind: str) -> str:
    """The script's own format for its three list printers, from the IMDS's answers."""
    out = [f"{kind}: "]
    listing = {"block-device-mapping": "meta-data/block-device-mapping/",
               "public-keys": "meta-data/public-keys/", "tags": "meta-data/tags/instance/"}[kind]
    keys = (_oracle(stack, iid, listing) or "").split()
    if not keys:
        return "\n".join(out + ["not available"])
    for key in keys:
        if kind == "public-keys":
            index, name = key.split("=", 1)
            fmt = _oracle(stack, iid, f"{listing}{index}/") or ""
            out += [f"keyname:{name}", f"index:{index}", f"format:{fmt}", "key:(begins from next line)",
                    (_oracle(stack, iid, f"{listing}{index}/{fmt}") or "").rstrip("\n")]
        else:
            out.append(f"\t {key}: {(_oracle(stack, iid, listing + key) or '').rstrip(chr(10))}")
    return "\n".join(out)


def test_ec2_metadata_answers_every_option_with_the_instances_identity(ec2_metadata, isolated):
    inst = isolated(IID, user_data=USER_DATA, tags={"Name": "web-1"},
                    settings={"instance_metadata_tags": True})  # tags in IMDS: opt-in, as on EC2
    stack = isolated.stack
    desc = stack.imds.instance(IID)
    help_text = inst.run([ec2_metadata, "--help"]).stdout
    listed = set(re.findall(r"^(-\w)/(--[\w-]+)", help_text, flags=re.M))
    assert listed and listed == set(PLAIN) | set(LISTS), listed ^ (set(PLAIN) | set(LISTS))
    expected = {}
    for (short, long), (label, path) in PLAIN.items():
        value = (_oracle(stack, IID, path) or "").rstrip("\n")  # bash's $(...) drops them
        expected[short] = f"{label}: {value if value else 'not available'}"
    for (short, long), kind in LISTS.items():
        expected[short] = _expected_list(stack, IID, kind)
    # The instance's identity, as the IMDS control API states it, is what the client reads.
    identity = {"-i": IID, "-a": desc["ami_id"], "-t": desc["instance_type"], "-o": desc["local_ipv4"],
                "-z": desc["availability_zone"], "-h": desc["hostname"], "-d": USER_DATA.rstrip("\n")}
    for short, value in identity.items():
        assert expected[short].split(": ", 1)[1] == value, (short, expected[short])
    assert expected["-g"] == "tags: \n\t Name: web-1"
    for (short, long) in [*PLAIN, *LISTS]:
        for flag in (short, long):
            done = inst.run([ec2_metadata, flag])
            assert done.returncode == 0, (flag, done.stderr, done.stdout)
            assert done.stdout.rstrip("\n") == expected[short], (flag, done.stdout)
    whole = "\n".join(expected[s] for s in ("-a", "-l", "-m", "-n", "-b", "-i", "-t", "-h", "-o", "-k", "-z",
                                             "-c", "-p", "-v", "-u", "-r", "-e", "-s", "-d", "-g"))
    for argv in ([ec2_metadata, "--all"], [ec2_metadata]):
        done = inst.run(argv)
        assert done.returncode == 0 and done.stdout.rstrip("\n") == whole, (argv, done.stdout)
    # It used IMDSv2 (a token PUT) from inside the namespace: the IMDS log has the instance's calls.
    operations = {e["operation"] for e in stack.request_log() if e["instance_id"] == IID}
    assert "PutToken" in operations


CRAWL = textwrap.dedent('''
    import json, sys, tempfile
    from cloudinit import distros, helpers
    from cloudinit.sources import DataSourceEc2
    tmp = tempfile.mkdtemp()
    paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
    distro = distros.fetch("debian")("debian", {}, paths)
    ds = DataSourceEc2.DataSourceEc2({}, distro, paths)   # cloud-init's defaults: its own URLs
    # cloud-init tells AWS from other clouds by DMI (/sys/class/dmi: product uuid "ec2..."),
    # which no network namespace can change: this says what an EC2 instance's DMI would say.
    ds._cloud_name = DataSourceEc2.CloudNames.AWS
    ok = ds.get_data()
    print(json.dumps({"ok": ok, "instance_id": ds.get_instance_id(), "az": ds.availability_zone,
                      "region": ds.region, "metadata": ds.metadata, "identity": ds.identity,
                      "userdata": (ds.userdata_raw or b"").decode(), "api": ds.get_metadata_api_version(),
                      "address": ds.metadata_address}, default=str))
''')


def test_cloud_inits_ec2_datasource_crawls_the_instance(cloud_init, isolated):
    inst = isolated(IID, user_data=USER_DATA)
    desc = isolated.stack.imds.instance(IID)
    done = inst.run([cloud_init, "-c", CRAWL], timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    crawl = json.loads(done.stdout.strip().splitlines()[-1])
    assert crawl["ok"] is True, done.stderr[-2000:]
    assert crawl["address"] == "http://169.254.169.254"
    assert crawl["instance_id"] == IID
    assert crawl["az"] == desc["availability_zone"] and crawl["region"] == desc["region"]
    assert crawl["userdata"] == USER_DATA
    md = crawl["metadata"]
    assert md["instance-id"] == IID and md["local-ipv4"] == desc["local_ipv4"]
    assert md["ami-id"] == desc["ami_id"] and md["instance-type"] == desc["instance_type"]
    assert md["iam"]["info"]["InstanceProfileArn"].endswith(f"instance-profile/{desc['role']}")
    identity = crawl["identity"]
    assert identity["instanceId"] == IID and identity["region"] == desc["region"]
    assert identity["privateIp"] == desc["local_ipv4"]
    operations = {e["operation"] for e in isolated.stack.request_log() if e["instance_id"] == IID}
    assert "PutToken" in operations  # cloud-init used IMDSv2
