"""``python -m tornsess``: small admin commands.

``python -m tornsess keygen [--encoder signed|secretbox]`` prints a fresh key.
"""

from __future__ import annotations

import argparse
import sys

from .keys import generate_key


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tornsess", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="print a fresh 256-bit key")
    keygen.add_argument(
        "--encoder",
        choices=("signed", "secretbox"),
        default="signed",
        help="the encoder the key is for (both take the same text form)",
    )
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(generate_key())
    return 0


if __name__ == "__main__":
    sys.exit(main())
