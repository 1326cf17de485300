"""What a metadata path answers once the request got through tokens, limits and faults.

Versions: ``GET /`` lists EC2's dated builds of the metadata API and ``latest``; a dated build
serves only the categories released by then (`fakes.imds.versions`). Unknown versions answer 404.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import string
import time

from aiohttp import web

from fakes.imds.model import identity_document, imds_json, iso_utc
from fakes.imds.responses import error, octets, text
from fakes.imds.state import InstanceState
from fakes.imds.tree import dynamic_tree, listing
from fakes.imds.versions import DYNAMIC_RELEASED, VERSIONS, released, version_root

__all__ = ["answer_metadata", "signed_document", "VERSIONS"]

_KNOWN = frozenset(VERSIONS)
_DYNAMIC = dynamic_tree()
IDENTITY_CREDENTIAL_LIFETIME = 6 * 3600


async def answer_metadata(state, st: InstanceState, path: str, with_token: bool, executor) -> web.Response:
    """The answer for ``path`` (after the instance prefix, if any); ``with_token``: the request
    carried a valid IMDSv2 token (IMDSv1 callers get their own credentials)."""
    parts = [p for p in path.split("/") if p]  # "latest//meta-data" is read as EC2 reads it
    if not parts:
        return text("\n".join(VERSIONS))
    version = parts[0]
    if version not in _KNOWN:
        return error(404)
    inst = st.instance
    user_data = inst.user_data_bytes
    if len(parts) == 1:
        return text("\n".join(version_root(version, user_data is not None)))
    category, rest = parts[1], parts[2:]
    if category == "user-data" and not rest:
        return error(404) if user_data is None else octets(user_data)
    if category == "dynamic" and released(DYNAMIC_RELEASED, version):
        node = _DYNAMIC
    elif category == "meta-data":
        node = st.tree_at(version)
    else:
        return error(404)
    for i, part in enumerate(rest):
        if not isinstance(node, dict) or part not in node:
            return error(404)
        node = node[part]
        if node is None:  # rendered on demand
            if i != len(rest) - 1:
                return error(404)
            return await _rendered(state, st, category, rest, with_token, executor)
    if isinstance(node, dict):
        return text(listing(node))
    return text(node)


async def _rendered(state, st: InstanceState, category: str, parts: list[str], with_token: bool,
                    executor) -> web.Response:
    inst, ledger = st.instance, state.ledger
    if category == "dynamic":
        kind = parts[-1]
        if kind not in st.signed:  # the document never changes: sign it once
            st.signed[kind] = signed_document(state.signer, inst, kind)
        return text(st.signed[kind])
    if parts[0] == "identity-credentials":
        return text(_identity_credentials(st, parts[-1]))
    delivery = "2.0" if with_token else "1.0"
    if parts[-1] == "info":
        held = ledger.held(inst.instance_id, delivery)
        return text(imds_json({
            "Code": "Success",
            "LastUpdated": iso_utc(held.issued_at if held else inst.launched_at),
            "InstanceProfileArn": inst.instance_profile_arn,
            "InstanceProfileId": inst.instance_profile_id,
        }))
    settings = inst.settings
    loop = asyncio.get_running_loop()
    try:
        creds = await loop.run_in_executor(
            executor, ledger.current, inst.instance_id, inst.role, settings.credential_lifetime,
            settings.refresh_margin(), inst.account_id, delivery,
        )
    except Exception as exc:  # noqa: BLE001 - EC2 reports a failed AssumeRole in a 200 body
        return text(imds_json({
            "Code": "AssumeRoleUnauthorizedAccess",
            "Message": f"EC2 cannot assume the role {inst.role}: {exc}",
            "LastUpdated": iso_utc(time.time()),
        }))
    return text(imds_json(creds.imds_body()))


def _identity_credentials(st: InstanceState, leaf: str) -> str:
    """identity-credentials/ec2/: EC2's instance identity credentials. They only prove "this
    is instance X" to a few AWS-internal services; no fake accepts them, so they are made up
    here (never registered with the gate) and renewed when they expire."""
    inst = st.instance
    now = time.time()
    if st.identity_credentials is None or st.identity_credentials["expiration"] <= now:
        alphabet = string.ascii_uppercase + string.digits
        st.identity_credentials = {
            "issued": now,
            "expiration": float(math.floor(now + IDENTITY_CREDENTIAL_LIFETIME)),
            "key": "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
            "secret": secrets.token_urlsafe(30),
            "token": "IQoJ" + secrets.token_urlsafe(96),
        }
    held = st.identity_credentials
    if leaf == "info":
        return imds_json({"Code": "Success", "LastUpdated": iso_utc(held["issued"]), "AccountId": inst.account_id})
    return imds_json({
        "Code": "Success",
        "LastUpdated": iso_utc(held["issued"]),
        "Type": "AWS-HMAC",
        "AccessKeyId": held["key"],
        "SecretAccessKey": held["secret"],
        "Token": held["token"],
        "Expiration": iso_utc(held["expiration"]),
    })


def signed_document(signer, inst, kind: str) -> str:
    document = identity_document(inst)
    if kind == "document":
        return document
    if kind == "signature":
        return signer.signature(document.encode())
    return signer.pkcs7(document.encode())  # pkcs7 and rsa2048
