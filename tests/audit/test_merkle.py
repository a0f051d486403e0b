from __future__ import annotations

import hashlib

import pytest

from deltafed._profile import GM, INTERNATIONAL, CryptoProfile
from deltafed.audit._merkle import (
    EMPTY_ROOT,
    Frontier,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_from_getter,
    verify_inclusion,
)


def naive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH written straight from its definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def build(n: int) -> tuple[list[bytes], dict[tuple[int, int], bytes], Frontier]:
    leaves = [f"leaf-{i}".encode() for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = Frontier()
    for leaf in leaves:
        for level, idx, value in frontier.append(leaf_hash(leaf)):
            nodes[(level, idx)] = value
    return leaves, nodes, frontier


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 100])
def test_roots_match_the_rfc_definition(n: int) -> None:
    leaves, nodes, frontier = build(n)
    expected = naive_root(leaves)
    assert frontier.root() == expected
    for size in range(n + 1):
        assert root_from_getter(lambda lv, ix: nodes[(lv, ix)], size) == naive_root(leaves[:size])
    assert Frontier.load(n, lambda lv, ix: nodes[(lv, ix)]).root() == expected
    if n == 0:
        assert expected == EMPTY_ROOT


def test_only_perfect_subtrees_are_stored() -> None:
    _, nodes, _ = build(13)
    for level, idx in nodes:
        assert (idx + 1) << level <= 13
    assert len(nodes) == 13 + 6 + 3 + 1


@pytest.mark.parametrize("crypto", [INTERNATIONAL, GM])
@pytest.mark.parametrize("start", [0, 16])
def test_add_builds_the_tree_append_builds(crypto: CryptoProfile, start: int) -> None:
    one = Frontier(size=start, crypto=crypto)
    two = Frontier(size=start, crypto=crypto)
    made: dict[int, list[tuple[int, bytes]]] = {}
    appended: dict[int, list[tuple[int, bytes]]] = {}
    for i in range(45):
        leaf = leaf_hash(f"leaf-{i}".encode(), crypto)
        for level, idx, value in one.append(leaf)[1:]:
            appended.setdefault(level, []).append((idx, value))
        two.add(leaf, made)
        assert (two.size, two._stack, two.root()) == (one.size, one._stack, one.root())
    assert made == appended
    assert sorted(made) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 11, 32, 33])
def test_every_inclusion_proof_verifies(size: int) -> None:
    leaves, nodes, _ = build(size)
    get = lambda lv, ix: nodes[(lv, ix)]  # noqa: E731
    root = naive_root(leaves)
    for i in range(size):
        path = inclusion_path(get, i, size)
        assert verify_inclusion(leaf_hash(leaves[i]), i, size, path, root)
        # the same proof fails for another leaf, another position, a changed path
        assert not verify_inclusion(leaf_hash(b"other"), i, size, path, root)
        if size > 1:
            assert not verify_inclusion(leaf_hash(leaves[i]), (i + 1) % size, size, path, root)
            bad = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
            assert not verify_inclusion(leaf_hash(leaves[i]), i, size, bad, root)
            assert not verify_inclusion(leaf_hash(leaves[i]), i, size, path[:-1], root)
        assert not verify_inclusion(leaf_hash(leaves[i]), i, size, [*path, root], root)


def test_proofs_of_a_prefix_verify_against_the_prefix_root() -> None:
    leaves, nodes, _ = build(20)
    get = lambda lv, ix: nodes[(lv, ix)]  # noqa: E731
    for size in range(1, 21):
        root = naive_root(leaves[:size])
        for i in range(size):
            assert verify_inclusion(
                leaf_hash(leaves[i]), i, size, inclusion_path(get, i, size), root
            )


def test_out_of_range() -> None:
    _, nodes, _ = build(4)
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_path(lambda lv, ix: nodes[(lv, ix)], 4, 4)
    assert not verify_inclusion(leaf_hash(b"x"), 4, 4, [], EMPTY_ROOT)


def test_consistency_proofs_between_every_pair_of_sizes() -> None:
    from deltafed.audit._merkle import consistency_path, verify_consistency

    leaves, nodes, _ = build(21)
    get = lambda lv, ix: nodes[(lv, ix)]  # noqa: E731
    roots = [naive_root(leaves[:n]) for n in range(22)]
    for new in range(22):
        for old in range(new + 1):
            path = consistency_path(get, old, new)
            assert verify_consistency(old, new, path, roots[old], roots[new]), (old, new)
            if 0 < old < new:
                # another old root, another new root, or a changed path all fail
                assert not verify_consistency(old, new, path, roots[old - 1], roots[new])
                assert not verify_consistency(old, new, path, roots[old], leaf_hash(b"x"))
                if path:
                    bad = [bytes([path[-1][0] ^ 1]) + path[-1][1:]]
                    assert not verify_consistency(
                        old, new, [*path[:-1], *bad], roots[old], roots[new]
                    )
    assert not verify_consistency(5, 4, [], roots[5], roots[4])
    with pytest.raises(ValueError, match="prefix"):
        consistency_path(get, 5, 4)
