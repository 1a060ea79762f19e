"""`python -m service.keys new|hash`: make a client key and the hash CLIENT_API_KEYS stores."""

from __future__ import annotations

import argparse
import secrets

from service.settings import CLIENT_KEY_PREFIX, hash_client_key


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="generate a key for a client and print it with its hash")
    new.add_argument("client_id")
    digest = sub.add_parser("hash", help="print the SHA-256 hash of an existing key")
    digest.add_argument("key")
    args = parser.parse_args()
    if args.command == "new":
        key = CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)
        print(f"key (give it to {args.client_id}, store it nowhere else): {key}")
        print(f'CLIENT_API_KEYS entry: "{hash_client_key(key)}": "{args.client_id}"')
    else:
        print(hash_client_key(args.key))


if __name__ == "__main__":
    main()
