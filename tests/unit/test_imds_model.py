"""The IMDS model without a server: instance identities, settings, and the tree they render."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.imds.model import Instance, valid_instance_id
from fakes.imds.settings import SPOT_NOTICE_SECONDS, Settings
from fakes.imds.tree import listing, metadata_tree


@given(st.text(alphabet="0123456789abcdef", min_size=1, max_size=20))
def test_instance_ids_are_i_dash_8_or_17_lowercase_hex(digits):
    assert valid_instance_id("i-" + digits) == (len(digits) in (8, 17))
    if any(c in "abcdef" for c in digits):
        assert not valid_instance_id("i-" + digits.upper())  # EC2 ids are lowercase


def test_derived_identities_are_valid_and_stable():
    first, again = Instance(seq=7), Instance(seq=7)
    assert valid_instance_id(first.instance_id) and first.instance_id == again.instance_id
    assert first.mac == again.mac and first.local_ipv4 == again.local_ipv4 == "10.0.0.8"
    assert Instance(seq=8).instance_id != first.instance_id


def test_public_hostname_follows_the_region_as_ec2():
    assert Instance(seq=1, public_ipv4="198.51.100.7").public_hostname == "ec2-198-51-100-7.compute-1.amazonaws.com"
    east2 = Instance(seq=1, availability_zone="us-east-2c", public_ipv4="198.51.100.7")
    assert east2.public_hostname == "ec2-198-51-100-7.us-east-2.compute.amazonaws.com"


def test_a_bad_setting_leaves_every_setting_as_it_was():
    settings = Settings()
    with pytest.raises(ValueError, match="hops"):
        settings.update({"outage": True, "hops": 99})
    assert settings.outage is False and settings.hops == 1


def test_a_spot_notice_without_a_time_gets_two_minutes(monkeypatch):
    monkeypatch.setattr("fakes.imds.settings.time.time", lambda: 1_000.0)
    settings = Settings()
    settings.update({"spot_action": "hibernate"})
    assert settings.spot_action_time == 1_000.0 + SPOT_NOTICE_SECONDS
    settings.update({"spot_action": None})
    assert settings.spot_action_time is None


def test_tree_lists_key_pairs_as_ec2_and_directories_with_a_slash():
    inst = Instance(seq=1, public_keys={"a": "ssh-rsa AAA a", "b": "ssh-rsa BBB b"})
    tree = metadata_tree(inst)
    assert listing(tree["public-keys"]) == "0=a\n1=b"
    assert tree["public-keys"]["1"]["openssh-key"] == "ssh-rsa BBB b"
    top = listing(tree).split("\n")
    assert "placement/" in top and "instance-id" in top and "public-keys/" in top


def test_optional_categories_follow_settings():
    inst = Instance(seq=1, instance_life_cycle="spot")
    assert "spot" not in metadata_tree(inst) and "autoscaling" not in metadata_tree(inst)
    inst.settings.update({"spot_action": "terminate", "spot_action_time": 0, "target_lifecycle_state": "InService"})
    tree = metadata_tree(inst)
    assert json.loads(tree["spot"]["instance-action"]) == {"action": "terminate", "time": "1970-01-01T00:00:00Z"}
    assert tree["spot"]["termination-time"] == "1970-01-01T00:00:00Z"
    assert tree["autoscaling"]["target-lifecycle-state"] == "InService"
