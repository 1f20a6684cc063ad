"""Paper trading: the real bot against the simulator in one process, and the limit-compliance proof.

* :mod:`aqbot.paper.command`: ``aqbot paper`` (``add_paper_parser(subparsers)``).
* :mod:`aqbot.paper.runner`: :class:`~aqbot.paper.runner.PaperOptions` and the session both speeds share
  (simulator, bot incarnations with crashes and restarts, final reconciliation, summary).
* :mod:`aqbot.paper.maxspeed`: :func:`~aqbot.paper.maxspeed.run_paper`, one ``trio.run`` under
  ``MockClock`` (deterministic), with a stall watchdog.
* :mod:`aqbot.paper.realtime`: the loopback, real-time run (signals, dashboard or progress lines).
* :mod:`aqbot.paper.schedule`: scripted transport faults, the crash blackout, the calm final check.
* :mod:`aqbot.paper.summary`: the JSON summary (limit evidence from the exchange's own books).
* :mod:`aqbot.paper.campaign`: many seeds in parallel processes, and the result table.

See ``docs/paper.md``.
"""
