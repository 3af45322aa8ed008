#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from tickstock_ops.env import run_management_command

    run_management_command(sys.argv)


if __name__ == "__main__":
    main()
