"""`python -m scripts.client_keys --stack staging add|list|revoke`: a deployed stack's client keys.

The stack's client-keys secret (its ARN is the stack output `client_api_keys_secret_arn`) holds
`{"<sha256 hex of key>": "<client id>"}`; only hashes, so a key is shown once, when it is added. Tasks
read the map when they start, so a change is followed by a rolling restart of the service
(`--no-redeploy` skips it).

Edits never lose an entry: the map is read with its version, changed, written as a new version that is
not yet current, and made current only if the version it was computed from still is (compare-and-set on
`AWSCURRENT`); if someone else changed the secret meanwhile, the edit is redone on their version. A secret
that does not hold a valid map is refused and left as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.outputs import CLIENT_API_KEYS_SECRET_ARN, CLUSTER_NAME, SERVICE_NAME
from scripts.shell import CommandFailed, Shell
from scripts.stack import PulumiStack, StackError
from service.keys import new_client_key
from service.settings import hash_client_key

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_HASH = re.compile(r"[0-9a-f]{64}")
CURRENT = "AWSCURRENT"
EDIT_STAGE = "client-keys-edit"  # marks the version being written until it is made current
MAX_ATTEMPTS = 5
HASH_SHOWN = 12
# Names a version id deterministically by what it was computed from and what it holds: a retried write
# of the same edit is the same version (Secrets Manager's idempotency token), a different edit is not.
VERSION_NAMESPACE = uuid.UUID("6f0f5c4e-3a57-4c9e-9d2b-6d1c1b0c7a11")

Keys = dict[str, str]


class KeysError(RuntimeError):
    """An edit that cannot be made; the message says why and what to do. Nothing was written."""


@dataclass(frozen=True)
class Snapshot:
    version_id: str
    keys: Keys


def parse_keys(text: str, where: str) -> Keys:
    """The map a secret holds, or `KeysError` naming what is wrong with it (the secret is left alone)."""
    shape = '{"<sha256 hex of key>": "<client id>", ...}'
    try:
        found = json.loads(text)
    except json.JSONDecodeError as e:
        raise KeysError(f"{where} is not JSON ({e.msg} at character {e.pos}); it should be {shape}") from None
    if not isinstance(found, dict):
        raise KeysError(f"{where} holds a JSON {type(found).__name__}, not a map; it should be {shape}")
    for digest, client in found.items():
        if not KEY_HASH.fullmatch(digest) or not isinstance(client, str) or not client:
            raise KeysError(
                f"{where} has an entry that is not a lower-case SHA-256 hex digest and a client id "
                f"({digest[:HASH_SHOWN]}...: {client!r}); fix it in the Secrets Manager console first"
            )
    return found


class ClientKeyStore:
    """The client-keys secret, edited by compare-and-set on its current version."""

    def __init__(self, client: SecretsManagerClient, secret_arn: str) -> None:
        self.client = client
        self.arn = secret_arn

    def read(self) -> Snapshot:
        found = self.client.get_secret_value(SecretId=self.arn, VersionStage=CURRENT)
        return Snapshot(found["VersionId"], parse_keys(found.get("SecretString", ""), f"the secret {self.arn}"))

    def update(self, edit: Callable[[Keys], Keys]) -> Keys:
        """Apply `edit` to the current map and make the result current, redoing it if the secret moved."""
        for _ in range(MAX_ATTEMPTS):
            base = self.read()
            keys = edit(dict(base.keys))
            if keys == base.keys:
                return keys
            if self._write(base, keys):
                return keys
        raise KeysError(
            f"the secret {self.arn} changed {MAX_ATTEMPTS} times while this edit was being made; nothing was "
            "written. Run the command again"
        )

    def _write(self, base: Snapshot, keys: Keys) -> bool:
        body = json.dumps(keys, indent=1, sort_keys=True)
        fingerprint = base.version_id + hashlib.sha256(body.encode()).hexdigest()
        version = str(uuid.uuid5(VERSION_NAMESPACE, fingerprint))
        self.client.put_secret_value(
            SecretId=self.arn, SecretString=body, ClientRequestToken=version, VersionStages=[EDIT_STAGE]
        )
        try:
            # Fails unless `base` is still the current version: that is the compare in compare-and-set.
            self.client.update_secret_version_stage(
                SecretId=self.arn, VersionStage=CURRENT, MoveToVersionId=version, RemoveFromVersionId=base.version_id
            )
        except ClientError:
            now = self.client.describe_secret(SecretId=self.arn)["VersionIdsToStages"]
            if CURRENT in now.get(version, []):
                return True  # it went through; the answer was lost
            if CURRENT in now.get(base.version_id, []):
                raise  # nobody else wrote, so this is a real error (permissions, throttling)
            return False
        self.client.update_secret_version_stage(SecretId=self.arn, VersionStage=EDIT_STAGE, RemoveFromVersionId=version)
        return True


# --- the edits: pure functions of the map ---------------------------------------------------------------


def add(keys: Keys, client_id: str, key: str) -> Keys:
    if not CLIENT_ID.fullmatch(client_id):
        raise KeysError(f"client id {client_id!r}: use 1-64 letters, digits, '.', '_' or '-', starting alnum")
    return {**keys, hash_client_key(key): client_id}


def revoke(keys: Keys, client_id: str, hash_prefix: str | None = None) -> Keys:
    gone = {h for h, c in keys.items() if c == client_id and (hash_prefix is None or h.startswith(hash_prefix))}
    if not gone:
        which = f" with a key hash starting {hash_prefix}" if hash_prefix else ""
        raise KeysError(f"no key of client {client_id!r}{which}; `list` shows the clients and their key hashes")
    left = {h: c for h, c in keys.items() if h not in gone}
    if not left:
        raise KeysError(
            "that would revoke the last key, and tasks refuse to start without one: add another client first"
        )
    return left


def describe(keys: Keys) -> list[str]:
    rows = sorted((client, digest[:HASH_SHOWN]) for digest, client in keys.items())
    width = max([len("client"), *(len(c) for c, _ in rows)])
    lines = [f"{'client':<{width}}  key hash", *(f"{c:<{width}}  {d}..." for c, d in rows)]
    return [*lines, f"{len(keys)} keys, {len({c for c, _ in rows})} clients"]


# --- the command ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    secret_arn: str
    cluster: str | None
    service: str | None

    @property
    def region(self) -> str:
        return self.secret_arn.split(":")[3]


def target(args: argparse.Namespace) -> Target:
    if args.secret_arn:
        return Target(args.secret_arn, None, None)
    outputs = PulumiStack(Shell(), args.stack, args.org).outputs()
    arn = outputs.get(CLIENT_API_KEYS_SECRET_ARN)
    if not arn:
        raise StackError(
            f"stack {args.stack} has no `{CLIENT_API_KEYS_SECRET_ARN}` output: run `pulumi up` (or CI's deploy) "
            "once with this version of infra/, or pass --secret-arn"
        )
    return Target(str(arn), outputs.get(CLUSTER_NAME), outputs.get(SERVICE_NAME))


def redeploy(to: Target) -> str:
    if not (to.cluster and to.service):
        return "Restart the service's tasks to use it (they read the keys when they start)."
    boto3.client("ecs", region_name=to.region).update_service(
        cluster=to.cluster, service=to.service, forceNewDeployment=True
    )
    return f"Rolling restart of {to.service} started: new tasks take the change within a few minutes."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.client_keys", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="staging or prod: the secret is found by the stack's output")
    where.add_argument("--secret-arn", help="the client-keys secret itself (no restart)")
    parser.add_argument(
        "--org", default=os.environ.get("PULUMI_ORG") or None, help="Pulumi Cloud organization (PULUMI_ORG)"
    )
    parser.add_argument("--no-redeploy", action="store_true", help="do not restart the service's tasks")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="client ids and the first characters of their key hashes")
    adding = sub.add_parser("add", help="make a key for a client; it is printed once")
    adding.add_argument("client_id")
    revoking = sub.add_parser("revoke", help="remove a client's keys (or one, with --hash)")
    revoking.add_argument("client_id")
    revoking.add_argument("--hash", dest="hash_prefix", help="only the key whose hash starts so (see `list`)")
    args = parser.parse_args(argv)
    try:
        to = target(args)
        store = ClientKeyStore(boto3.client("secretsmanager", region_name=to.region), to.secret_arn)
        if args.command == "list":
            print("\n".join(describe(store.read().keys)))
            return 0
        if args.command == "add":
            key = new_client_key()
            store.update(lambda keys: add(keys, args.client_id, key))
            print(f"Added a key for {args.client_id}. It is shown this once; only its hash is stored:\n{key}")
        else:
            keys = store.update(lambda keys: revoke(keys, args.client_id, args.hash_prefix))
            print(f"Revoked {args.client_id}'s key(s); {len(keys)} key(s) left.")
        print("Tasks read the keys when they start." if args.no_redeploy else redeploy(to))
    except (KeysError, StackError, CommandFailed) as e:
        print(f"client_keys: {e}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as e:
        print(f"client_keys: AWS refused: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
