"""``python -m aqbot``: the same as the ``aqbot`` console script."""

from aqbot.cli import main

raise SystemExit(main())
