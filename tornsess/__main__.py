"""``python -m tornsess``: small admin commands.

``python -m tornsess keygen`` prints a fresh 256-bit key.
"""

from __future__ import annotations

import argparse
import sys

from .keys import generate_key

DESCRIPTION = "Small admin commands for tornsess."
KEYGEN_HELP = "print a fresh 256-bit key"
KEYGEN_DESCRIPTION = (
    "Print a fresh 256-bit key: 32 random bytes from the secrets module, as "
    "43 characters of base64url. SignedEncoder and SecretBoxEncoder both "
    "take this form, so one command serves either; pass several keys, oldest "
    "first, to rotate."
)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tornsess", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keygen", help=KEYGEN_HELP, description=KEYGEN_DESCRIPTION)
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(generate_key())
    return 0


if __name__ == "__main__":
    sys.exit(main())
