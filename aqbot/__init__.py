"""aqbot: an active-quoting bot for Polymarket's CLOB V2 whose position limits hold.

Layout (see docs/architecture.md):

* ``aqbot.core``  pure, sans-IO state: orders, exposure, fills, positions, halts, book, strategy
* ``aqbot.wire``  attrs models of every REST/WS payload and the cattrs converters that decode them
* ``aqbot.auth``  L1/L2 authentication, V2 order signing and hashing
* ``aqbot.io``    thin Trio shells: REST client, WS channels, ledger, alerts, metrics
* ``aqbot.sim``   a faithful CLOB V2 exchange simulator
* ``aqbot.app``   the composition root (the nursery tree)
"""

__version__ = "0.1.0"
