"""The publication point: versioned files, walking missed versions (anchor rotation), polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from deltafed import (
    ConfigurationError,
    RegistryExpiredError,
    RegistryInvalidError,
    RetryPolicy,
    RollbackError,
    ThresholdNotMetError,
    TransportError,
)
from deltafed.registry import (
    AsyncRegistryClient,
    RegistryClient,
    RegistryFile,
    RegistryPoller,
    TrustedRegistry,
    write_publication,
)
from deltafed.registry._publication import (
    MAX_WALK,
    versioned_name,
    versioned_url,
    versions_to_walk,
)

URL = "https://anchor.example.test/yrd/registry.jws"


def test_versioned_names() -> None:
    assert versioned_name("registry.jws", 7) == "registry.7.jws"
    assert versioned_name("yrd", 2) == "yrd.2"
    assert versioned_url(URL, 12) == "https://anchor.example.test/yrd/registry.12.jws"
    assert versions_to_walk(None, 5) == range(0)
    assert versions_to_walk(4, 5) == range(0)
    assert list(versions_to_walk(2, 5)) == [3, 4]
    with pytest.raises(ConfigurationError):
        versioned_name("registry.jws", 0)
    with pytest.raises(RegistryInvalidError):
        versions_to_walk(1, MAX_WALK + 3)


class Chain:
    """Versions 1..4 of one federation; version 3 rotates the anchor from key 0 to key 1."""

    def __init__(self, world: Any) -> None:
        self.world = world
        old, new = world.anchor((0,)), world.anchor((1,))
        self.files = {
            1: world.signed(world.doc(1, anchor=old), (0,)),
            2: world.signed(world.doc(2, anchor=old), (0,)),
            3: world.signed(world.doc(3, anchor=new), (0, 1)),  # old AND new anchor sign
            4: world.signed(world.doc(4, anchor=new), (1,)),  # the new anchor alone
        }

    def trusted(self) -> TrustedRegistry:
        trusted = TrustedRegistry(self.world.anchor((0,)), clock=self.world.clock)
        trusted.update(self.files[1])
        return trusted


def test_walk_follows_an_anchor_rotation_from_files(world: Any, tmp_path: Path) -> None:
    chain = Chain(world)
    current = tmp_path / "registry.jws"
    for version in (1, 2, 3, 4):
        versioned = write_publication(current, chain.files[version])
        assert versioned == tmp_path / f"registry.{version}.jws"
    assert current.read_bytes() == chain.files[4]
    trusted = chain.trusted()
    # Without the walk, version 4 is signed by keys the node does not trust yet.
    with pytest.raises(ThresholdNotMetError):
        trusted.staged().update(chain.files[4])
    source = RegistryFile(trusted, current)
    assert source.refresh() is True
    assert trusted.version == 4
    assert trusted.anchor.same_as(world.anchor((1,)))
    assert source.refresh() is False  # unchanged file: not even read again


def test_a_missing_intermediate_keeps_the_trusted_version(world: Any, tmp_path: Path) -> None:
    chain = Chain(world)
    current = tmp_path / "registry.jws"
    for version in (1, 2, 3, 4):
        write_publication(current, chain.files[version])
    (tmp_path / "registry.3.jws").unlink()
    trusted = chain.trusted()
    with pytest.raises(TransportError, match=r"registry\.3\.jws"):
        RegistryFile(trusted, current).refresh()
    assert trusted.version == 1
    assert trusted.anchor.same_as(world.anchor((0,)))


def test_a_bad_last_version_keeps_the_trusted_version(world: Any, tmp_path: Path) -> None:
    chain = Chain(world)
    current = tmp_path / "registry.jws"
    for version in (1, 2, 3):
        write_publication(current, chain.files[version])
    forged = world.signed(world.doc(4, anchor=world.anchor((1,))), (2,))  # an unknown key
    current.write_bytes(forged)
    (tmp_path / "registry.4.jws").write_bytes(forged)
    trusted = chain.trusted()
    with pytest.raises(ThresholdNotMetError):
        RegistryFile(trusted, current).refresh()
    assert trusted.version == 1  # versions 2 and 3 were only staged: all or nothing


def test_expired_intermediates_are_walked_but_the_last_must_be_fresh(
    world: Any, tmp_path: Path
) -> None:
    old = world.anchor((0,))
    v1 = world.signed(world.doc(1, anchor=old))
    v2 = world.signed(world.doc(2, anchor=old, validity=world.HOUR))
    current = tmp_path / "registry.jws"
    write_publication(current, v1)
    write_publication(current, v2)
    trusted = TrustedRegistry(old, clock=world.clock, grace=world.HOUR)
    trusted.update(v1)
    world.clock.advance(3 * 3600)  # version 2 is past expiry and grace
    with pytest.raises(RegistryExpiredError):
        RegistryFile(trusted, current).refresh()
    assert trusted.version == 1
    v3 = world.signed(world.doc(3, anchor=old))
    write_publication(current, v3)
    assert RegistryFile(trusted, current).refresh() is True
    assert trusted.version == 3


def test_adopt_refuses_a_walk_overtaken_by_another_update(world: Any) -> None:
    chain = Chain(world)
    trusted = chain.trusted()
    staged = trusted.staged()
    staged.update(chain.files[2])
    trusted.update(chain.files[2])
    with pytest.raises(RollbackError):
        trusted.adopt(staged)


def test_http_walk_and_conditional_requests(world: Any, httpx_mock: HTTPXMock) -> None:
    chain = Chain(world)
    stamp = "Sun, 01 Mar 2026 08:00:00 GMT"
    httpx_mock.add_response(
        url=URL, content=chain.files[4], headers={"ETag": '"v4"', "Last-Modified": stamp}
    )
    for version in (2, 3):
        httpx_mock.add_response(url=versioned_url(URL, version), content=chain.files[version])
    httpx_mock.add_response(url=URL, status_code=304)
    with httpx.Client() as http:
        client = RegistryClient(chain.trusted(), URL, http=http, retry=RetryPolicy.no_wait())
        assert client.refresh() is True
        assert client.trusted.version == 4
        assert client.refresh() is False
    requests = httpx_mock.get_requests()
    assert [str(r.url) for r in requests] == [
        URL,
        versioned_url(URL, 2),
        versioned_url(URL, 3),
        URL,
    ]
    assert "If-None-Match" not in requests[0].headers  # no ETag known yet
    assert requests[3].headers["If-None-Match"] == '"v4"'
    assert requests[3].headers["If-Modified-Since"] == stamp
    assert "If-None-Match" not in requests[1].headers  # versioned files are fetched in full


@pytest.mark.anyio
async def test_async_http_walk(world: Any, httpx_mock: HTTPXMock) -> None:
    chain = Chain(world)
    httpx_mock.add_response(url=URL, content=chain.files[4])
    httpx_mock.add_response(url=versioned_url(URL, 2), content=chain.files[2])
    httpx_mock.add_response(url=versioned_url(URL, 3), status_code=404)
    async with httpx.AsyncClient() as http:
        client = AsyncRegistryClient(chain.trusted(), URL, http=http, retry=RetryPolicy.no_wait())
        with pytest.raises(TransportError):
            await client.refresh()
        assert client.trusted.version == 1
        httpx_mock.add_response(url=URL, content=chain.files[4])
        httpx_mock.add_response(url=versioned_url(URL, 2), content=chain.files[2])
        httpx_mock.add_response(url=versioned_url(URL, 3), content=chain.files[3])
        assert await client.refresh() is True
        assert client.trusted.version == 4


@pytest.mark.anyio
async def test_poller_records_failures_and_keeps_the_version(world: Any, tmp_path: Path) -> None:
    chain = Chain(world)
    current = tmp_path / "registry.jws"
    write_publication(current, chain.files[1])
    trusted = chain.trusted()
    updates: list[int] = []
    poller = RegistryPoller(
        RegistryFile(trusted, current),
        interval=30,
        clock=world.clock,
        on_update=lambda doc: updates.append(doc.version),
    )
    assert await poller.poll() is False
    assert poller.status.polls == 1
    assert not poller.status.failing
    current.write_bytes(b"{not a registry")
    assert await poller.poll() is False
    assert poller.status.failing
    assert poller.status.last_error == "registry_invalid"
    assert poller.status.failures == 1
    assert trusted.version == 1
    write_publication(current, chain.files[2])
    assert await poller.poll() is True
    assert not poller.status.failing
    assert poller.status.last_error is None
    assert poller.status.updates == 1
    assert updates == [2]
    assert poller.poll_blocking() is False
    with pytest.raises(ConfigurationError):
        RegistryPoller(RegistryFile(trusted, current), interval=0)
