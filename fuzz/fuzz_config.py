"""Fuzz target: configuration loading from arbitrary bytes.

Invariant: ``config_from_toml(data)`` returns a :class:`aqbot.config.Config` or raises
:class:`aqbot.errors.ConfigError`, nothing else, and the error's text is one line that starts with its
field path. A returned config round-trips: its defaults are self-consistent (cross-field checks passed).

With atheris installed, fuzz a scratch copy of the corpus (libFuzzer writes new inputs into its first
corpus directory): ``cp -r fuzz/corpus/config /tmp/config && python fuzz/fuzz_config.py /tmp/config
-max_total_time=60``. ``tests/test_config_fuzz_corpus.py`` replays the committed corpus in CI.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # pragma: no cover - only under atheris
    import atheris

    with atheris.instrument_imports():
        from aqbot.config import Config, config_from_toml
        from aqbot.errors import ConfigError
else:
    from aqbot.config import Config, config_from_toml
    from aqbot.errors import ConfigError


def test_one_input(data: bytes) -> None:
    """Load ``data`` as a config file; fail loudly if the invariant breaks."""
    try:
        config = config_from_toml(data)
    except ConfigError as exc:
        text = str(exc)
        if "\n" in text or not text.startswith(exc.field + ": "):
            raise AssertionError(f"malformed ConfigError text: {text!r}") from exc
        return
    if not isinstance(config, Config):
        raise AssertionError(f"config_from_toml returned {type(config).__name__}")


if __name__ == "__main__":  # pragma: no cover
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
