"""Operator tools: ledger queries and verification, the compliance report, config checks, doctor, keys.

Each command module exposes ``add_*_parser(subparsers)`` (registered in :mod:`aqbot.cli`) whose parser
sets ``handler`` (``args -> int``). Exit codes: 0 ok, 1 a problem was found, 2 bad usage or bad
configuration (one line on stderr naming the argument or field, no traceback, no side effect).
"""
