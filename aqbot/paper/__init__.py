"""Paper trading: the real bot against the simulator in one process, and the limit-compliance proof.

* :mod:`aqbot.paper.command`: ``aqbot paper`` (``add_paper_parser(subparsers)``).
* :mod:`aqbot.paper.runner`: :class:`~aqbot.paper.runner.PaperOptions`, :func:`~aqbot.paper.runner.run_paper`
  (max speed: one ``trio.run`` under ``MockClock``) and the session both speeds share.
* :mod:`aqbot.paper.realtime`: the loopback, real-time run (signals, dashboard or progress lines).
* :mod:`aqbot.paper.summary`: the JSON summary (limit evidence from the exchange's own books).
* :mod:`aqbot.paper.campaign`: many seeds in parallel processes, and the result table.
"""
