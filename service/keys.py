"""`python -m service.keys new|hash`: make a client key and the hash CLIENT_API_KEYS stores.

This works offline, for local runs. A deployed stack's keys are added, listed and revoked in its
Secrets Manager secret with `python -m scripts.client_keys` (docs/deploying.md).
"""

from __future__ import annotations

import argparse
import secrets

from service.settings import CLIENT_KEY_PREFIX, hash_client_key


def new_client_key() -> str:
    """A fresh client key: the prefix, then 43 random URL-safe characters (256 bits)."""
    return CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="generate a key for a client and print it with its hash")
    new.add_argument("client_id")
    digest = sub.add_parser("hash", help="print the SHA-256 hash of an existing key")
    digest.add_argument("key")
    args = parser.parse_args()
    if args.command == "new":
        key = new_client_key()
        print(f"key (give it to {args.client_id}, store it nowhere else): {key}")
        print(f'CLIENT_API_KEYS entry: "{hash_client_key(key)}": "{args.client_id}"')
    else:
        print(hash_client_key(args.key))


if __name__ == "__main__":
    main()
