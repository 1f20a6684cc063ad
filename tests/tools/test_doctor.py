"""``aqbot doctor`` and ``aqbot keys derive`` vs the simulator: in process (MockClock) and on loopback."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx2
import pytest
import trio
import trio.testing
from _tools_helpers import run_cli, sim_config_text, sim_key_file

from aqbot.auth.keys import SigningKey
from aqbot.errors import AuthError
from aqbot.sim.runner import SimConfig, SimHandle, run_inprocess_simulator, run_loopback_simulator
from aqbot.tools.doctor import doctor_checks
from aqbot.tools.keys_cmd import derive_api_creds

WRONG_SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


async def _doctor(
    sim: SimHandle,
    tmp_path: Path,
    *,
    secret: str | None = None,
    extra: str = "",
    heartbeat: bool = True,
    api: bool = True,
) -> list[str]:
    keys = sim_key_file(tmp_path / "keys.env", sim, secret=secret, api=api)
    config = tmp_path / "bot.toml"
    config.write_text(sim_config_text(sim, key_file=keys, extra=extra))
    checks, summary = await doctor_checks(
        config,
        {},
        transport=sim.connector.http_transport,
        ws_connect=sim.connector.ws_connect,
        wall_clock=lambda: sim.now_ms() / 1000,
        heartbeat=heartbeat,
    )
    assert any(line.startswith("account: signer ") for line in summary)
    return [c.line() for c in checks]


async def test_doctor_passes_against_the_simulator(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=2))
            lines = await _doctor(sim, tmp_path)
            nursery.cancel_scope.cancel()
    assert [line for line in lines if not line.startswith("ok:")] == []
    text = "\n".join(lines)
    assert "clock skew +0.0 s" in text
    assert "GET /version is 2" in text
    assert "neg_risk true" in text, "market 1 of the simulator is neg-risk"
    assert "holds 10000 pUSD" in text
    assert "pUSD allowance to the neg-risk adapter" in text
    assert "user WebSocket accepted the subscription" in text
    assert "heartbeat round trip" in text
    assert sum("CTF approvals set" in line for line in lines) == 4


async def test_doctor_derives_credentials_like_run_when_only_the_private_key_is_set(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=2))
            lines = await _doctor(sim, tmp_path, api=False)
            nursery.cancel_scope.cancel()
    acct = sim.accounts[1]
    assert [line for line in lines if not line.startswith("ok:")] == []
    text = "\n".join(lines)
    assert f"ok: API key {acct.creds.api_key} derived with L1 auth for " in text
    assert "user WebSocket accepted the subscription" in text, "the L2 checks ran with the derived key"
    assert "holds 10000 pUSD" in text
    assert acct.creds.secret not in text
    assert acct.creds.passphrase not in text


async def test_doctor_wrong_api_secret_says_rederive(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=2))
            lines = await _doctor(sim, tmp_path, secret=WRONG_SECRET)
            nursery.cancel_scope.cancel()
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed == [
        "FAIL: API credentials rejected: re-derive with `aqbot keys derive --out KEYFILE` and update "
        "AQBOT_API_* or account.key_file (401 on GET /balance-allowance)"
    ]
    assert WRONG_SECRET not in "\n".join(lines)


async def test_doctor_flags_config_against_exchange_facts(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    """An unknown market and a quote size under the market's minimum are named with the fix."""
    unknown = "0x" + "ab" * 32
    extra = f'[[markets]]\ncondition_id = "{unknown}"\n[strategy]\nsize = 2\n'
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=2))
            lines = await _doctor(sim, tmp_path, extra=extra, heartbeat=False)
            nursery.cancel_scope.cancel()
    failed = [line for line in lines if line.startswith("FAIL")]
    assert any(
        f"markets[2].condition_id {unknown} is not a market of http://clob.sim.test" in f for f in failed
    )
    assert any("markets[2]: yes_token, no_token missing" in f for f in failed)
    assert (
        sum("strategy.size 2 is below the market's minimum order size 5: raise it" in f for f in failed) == 2
    )
    assert not any("heartbeat" in line for line in lines)


async def test_doctor_unreachable_exchange(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    config = tmp_path / "bot.toml"
    config.write_text('[endpoints]\nclob_url = "http://127.0.0.1:9"\n')
    with trio.fail_after(60):
        checks, _ = await doctor_checks(config, {}, transport=lambda: httpx2.MockTransport(refuse))
    lines = [c.line() for c in checks]
    assert lines[-1].startswith("FAIL: GET /time: no usable answer (GET /time: ConnectError")
    assert lines[-1].endswith("check the endpoint URL and the network")
    assert "FAIL: no credentials: set AQBOT_PRIVATE_KEY" in lines[1]


async def test_keys_derive_matches_the_simulator(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_inprocess_simulator, SimConfig(seed=5, markets=1, flow=False))
            acct = sim.accounts[1]
            async with httpx2.AsyncClient(
                base_url=sim.info.rest_url, transport=sim.connector.http_transport()
            ) as http:
                creds, how = await derive_api_creds(
                    http,
                    SigningKey.from_hex(acct.private_key),
                    sim.info.chain_id,
                    wall_clock=lambda: sim.now_ms() / 1000,
                )
                with pytest.raises(AuthError, match="401"):
                    await derive_api_creds(
                        http,
                        SigningKey.from_hex(acct.private_key),
                        80002,
                        wall_clock=lambda: sim.now_ms() / 1000,
                    )
            nursery.cancel_scope.cancel()
    assert how == "derived"
    assert (creds.api_key, creds.secret, creds.passphrase) == (
        acct.creds.api_key,
        acct.creds.secret,
        acct.creds.passphrase,
    )


async def test_cli_keys_then_doctor_on_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real commands, real sockets: derive keys into a 0600 file; doctor passes; a bad secret fails."""
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_loopback_simulator, SimConfig(seed=6, markets=2, flow=False))
            acct = sim.accounts[1]
            monkeypatch.setenv("AQBOT_PRIVATE_KEY", acct.private_key)
            keys = tmp_path / "keys.env"
            cli = functools.partial(trio.to_thread.run_sync, run_cli)
            code, out, err = await cli(
                ["keys", "derive", "--host", sim.info.rest_url, "--out", str(keys)], capsys
            )
            assert code == 0, err
            assert out == f"api key: {acct.api_key} (derived for signer {acct.address}, nonce 0)\n"
            assert acct.creds.secret not in out + err
            assert keys.stat().st_mode & 0o777 == 0o600
            assert f"AQBOT_API_SECRET={acct.creds.secret}\n" in keys.read_text()
            config = tmp_path / "bot.toml"
            config.write_text(sim_config_text(sim, key_file=keys))
            code, out, err = await cli(["doctor", "--config", str(config)], capsys)
            assert (code, err) == (0, ""), out
            assert out.endswith("all checks passed\n")
            keys.write_text(keys.read_text().replace(acct.creds.secret, WRONG_SECRET))
            code, out, _ = await cli(["doctor", "--config", str(config)], capsys)
            assert code == 1
            assert "FAIL: API credentials rejected: re-derive with `aqbot keys derive" in out
            code, out, _ = await cli(
                ["keys", "derive", "--host", sim.info.rest_url, "--show-secrets"], capsys
            )
            assert code == 0
            assert f"AQBOT_API_PASSPHRASE={acct.creds.passphrase}" in out
            nursery.cancel_scope.cancel()
