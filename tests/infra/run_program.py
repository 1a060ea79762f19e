"""The mock runner lives in infra/mocks.py now (the cost estimate runs it too). This keeps the old path working:
`python tests/infra/run_program.py <stack> ...` and imports of its names."""

from __future__ import annotations

from infra.mocks import DEFAULT_ACCOUNT, OIDC_URL, main

__all__ = ["DEFAULT_ACCOUNT", "OIDC_URL", "main"]

if __name__ == "__main__":
    main()
