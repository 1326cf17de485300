"""The dated builds of the metadata API, and which categories each build serves.

EC2 keeps every old build of the metadata API reachable under its date (``/2009-04-04/...``)
so that scripts written against it keep working; a category released after a build is not in
that build: not listed in its directories, 404 when asked for. ``latest`` serves everything.

`VERSIONS` is what AWS documents ``GET /`` to answer (the "Get the available versions of the
instance metadata" example of the EC2 user guide, awsdocs/amazon-ec2-user-guide,
doc_source/instancedata-data-retrieval.md). `RELEASED` is the "Version when category was
released" column of AWS's "Instance metadata categories" table (same repository,
doc_source/instancedata-data-categories.md, and the current page of the EC2 user guide where
the two disagree: ``events/recommendations`` 2020-10-27 and ``placement/availability-zone-id``
2019-10-01). Several release dates there are not builds of their own (elastic-gpus
2016-11-30, spot/instance-action 2016-11-15, ...): such a category first appears in the next
build listed at ``GET /``, which is what comparing the dates gives.
"""

from __future__ import annotations

from fakes.imds.tree import Listing

__all__ = ["VERSIONS", "LATEST", "RELEASED", "UNDATED", "released", "at_version", "version_root"]

LATEST = "latest"
VERSIONS = (
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
    "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25",
    "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28",
    "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", LATEST,
)

# meta-data/ paths ("*" stands for any one name: a MAC address) -> first version serving them.
# A directory's date covers what is below it unless a deeper path has its own.
RELEASED: dict[str, str] = {
    "ami-id": "1.0",
    "ami-launch-index": "1.0",
    "ami-manifest-path": "1.0",
    "ancestor-ami-ids": "2007-10-10",
    "autoscaling": "2021-07-15",  # autoscaling/target-lifecycle-state: only under latest
    "block-device-mapping": "2007-12-15",
    "elastic-gpus": "2016-11-30",
    "elastic-inference": "2018-11-29",
    "events": "2018-08-17",  # events/maintenance/{history,scheduled}
    "events/recommendations": "2020-10-27",
    "hostname": "1.0",
    "iam": "2012-01-12",
    "identity-credentials": "2018-05-23",
    "instance-action": "2008-09-01",
    "instance-id": "1.0",
    "instance-life-cycle": "2019-10-01",
    "instance-type": "2007-08-29",
    "ipv6": "2021-01-03",
    "kernel-id": "2008-02-01",
    "local-hostname": "2007-01-19",
    "local-ipv4": "1.0",
    "mac": "2011-01-01",
    "network": "2011-01-01",
    "network/interfaces/macs/*/ipv6s": "2016-06-30",
    "network/interfaces/macs/*/subnet-ipv6-cidr-blocks": "2016-06-30",
    "network/interfaces/macs/*/vpc-ipv4-cidr-blocks": "2016-06-30",
    "network/interfaces/macs/*/vpc-ipv6-cidr-blocks": "2016-06-30",
    "network/interfaces/macs/*/network-card-index": "2020-11-01",
    "placement": "2008-02-01",  # placement/availability-zone
    "placement/availability-zone-id": "2019-10-01",
    "placement/group-name": "2020-08-24",
    "placement/host-id": "2020-08-24",
    "placement/partition-number": "2020-08-24",
    "placement/region": "2020-08-24",
    "product-codes": "2007-03-01",
    "public-hostname": "2007-01-19",
    "public-ipv4": "2007-01-19",
    "public-keys": "1.0",
    "ramdisk-id": "2007-10-10",
    "reservation-id": "1.0",
    "security-groups": "1.0",
    "services": "2014-02-25",  # services/domain
    "services/partition": "2015-10-20",
    "spot": "2014-11-05",  # spot/termination-time
    "spot/instance-action": "2016-11-15",
    "tags": "2021-03-23",
}
# Served by real instances but absent from AWS's table, so no release date is known: every
# version serves them.
UNDATED = frozenset({"profile"})
DYNAMIC_RELEASED = "2009-04-04"  # fws/instance-monitoring and instance-identity/*
USER_DATA_RELEASED = "1.0"


def _rank(version: str) -> str:
    # Dated builds sort as text; 1.0 comes before all of them and latest after.
    return {"1.0": "0000", LATEST: "9999"}.get(version, version)


def released(since: str, version: str) -> bool:
    """Does build ``version`` serve a category first released in ``since``?"""
    return _rank(since) <= _rank(version)


def _trie(paths: dict[str, str]) -> dict:
    root: dict = {}
    for path, since in paths.items():
        node = root
        *parents, last = path.split("/")
        for part in parents:
            node = node.setdefault(part, [None, {}])[1]
        node.setdefault(last, [None, {}])[0] = since
    return root


_RULES = _trie(RELEASED)


def at_version(node: dict, version: str, rules: dict = _RULES) -> dict:
    """``node`` (a ``meta-data/`` tree) as build ``version`` serves it: newer categories left out."""
    if version == LATEST:
        return node
    kept = {}
    for key, child in node.items():
        since, below = rules.get(key) or rules.get("*") or (None, None)
        if since is not None and not released(since, version):
            continue
        if below and isinstance(child, dict):
            child = at_version(child, version, below)
        kept[key] = child
    return Listing(kept, node.labels) if isinstance(node, Listing) else kept


def version_root(version: str, has_user_data: bool) -> list[str]:
    """What ``GET /<version>/`` lists."""
    entries = ["meta-data"]
    if released(DYNAMIC_RELEASED, version):
        entries.insert(0, "dynamic")
    if has_user_data and released(USER_DATA_RELEASED, version):
        entries.append("user-data")
    return entries
