"""RFC 9162 Merkle tree hashing over audit entries, without I/O.

The tree is the one of Certificate Transparency (RFC 6962, RFC 9162 section 2.1): a leaf hash is
``SHA-256(0x00 || leaf)``, an interior node ``SHA-256(0x01 || left || right)``, and a tree whose
size is not a power of two splits at the largest power of two below its size. In a ``gm``
federation every function takes ``crypto=GM`` and the hash is SM3 instead (protocol section 11).
Only the *perfect* subtrees (size a power of two, aligned on that size) are ever stored:
``(level, index)`` names the subtree over leaves ``[index << level, (index + 1) << level)``.
Every hash the audit paths and roots need can be built from them in ``O(log n)`` look-ups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from deltafed._profile import INTERNATIONAL, CryptoProfile

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "NodeGetter",
    "consistency_path",
    "empty_root",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "root_from_getter",
    "verify_consistency",
    "verify_inclusion",
]

#: Root of the empty tree: the hash of the empty string (RFC 9162, 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Looks up the stored hash of the perfect subtree ``(level, index)``.
NodeGetter = Callable[[int, int], bytes]


def leaf_hash(leaf: bytes, crypto: CryptoProfile = INTERNATIONAL) -> bytes:
    return crypto.hash_fn(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes, crypto: CryptoProfile = INTERNATIONAL) -> bytes:
    return crypto.hash_fn(b"\x01" + left + right)


def empty_root(crypto: CryptoProfile = INTERNATIONAL) -> bytes:
    """The root of the empty tree: the hash of the empty string."""
    return crypto.hash_fn(b"")


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(get: NodeGetter, start: int, n: int, crypto: CryptoProfile) -> bytes:
    """Hash of leaves ``[start, start + n)``; ``start`` is aligned as the recursion keeps it."""
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return get(level, start >> level)
    k = _split(n)
    return node_hash(
        _subtree(get, start, k, crypto), _subtree(get, start + k, n - k, crypto), crypto
    )


def root_from_getter(get: NodeGetter, size: int, crypto: CryptoProfile = INTERNATIONAL) -> bytes:
    """The root of the first ``size`` leaves."""
    if size == 0:
        return empty_root(crypto)
    return _subtree(get, 0, size, crypto)


def inclusion_path(
    get: NodeGetter, index: int, size: int, crypto: CryptoProfile = INTERNATIONAL
) -> list[bytes]:
    """The RFC 9162 audit path of leaf ``index`` in the tree of ``size`` leaves, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            path.append(_subtree(get, start + k, n - k, crypto))
            n = k
        else:
            path.append(_subtree(get, start, k, crypto))
            start, m, n = start + k, m - k, n - k
    path.reverse()
    return path


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    path: Sequence[bytes],
    root: bytes,
    crypto: CryptoProfile = INTERNATIONAL,
) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r, crypto)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, crypto)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_path(
    get: NodeGetter, old_size: int, new_size: int, crypto: CryptoProfile = INTERNATIONAL
) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: proof that the first ``old_size`` leaves are a prefix."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove {old_size} is a prefix of {new_size}")
    if old_size in (0, new_size):
        return []
    out: list[bytes] = []
    start, m, n, whole = 0, old_size, new_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            out.append(_subtree(get, start + k, n - k, crypto))
            n = k
        else:
            out.append(_subtree(get, start, k, crypto))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        out.append(_subtree(get, start, m, crypto))
    out.reverse()
    return out


def verify_consistency(
    old_size: int,
    new_size: int,
    path: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
    crypto: CryptoProfile = INTERNATIONAL,
) -> bool:
    """RFC 9162 section 2.1.4.2: does ``path`` prove the old tree is a prefix of the new?"""
    if any(len(p) != 32 for p in path) or not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, crypto)
            sr = node_hash(c, sr, crypto)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c, crypto)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """The right edge of a growing tree: the perfect subtrees that make up its current size.

    Appending a leaf returns the perfect subtrees it completes (the leaf itself first), which is
    what a store keeps; :meth:`root` folds the edge into the tree head.
    """

    __slots__ = ("_stack", "crypto", "size")

    def __init__(
        self,
        size: int = 0,
        stack: Sequence[tuple[int, bytes]] = (),
        crypto: CryptoProfile = INTERNATIONAL,
    ) -> None:
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(stack)
        self.crypto = crypto

    @staticmethod
    def edge(size: int) -> list[tuple[int, int]]:
        """The ``(level, index)`` of the perfect subtrees a tree of ``size`` is made of."""
        out: list[tuple[int, int]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, start >> level))
                start += 1 << level
        return out

    @classmethod
    def load(cls, size: int, get: NodeGetter, crypto: CryptoProfile = INTERNATIONAL) -> Frontier:
        return cls(size, [(level, get(level, idx)) for level, idx in cls.edge(size)], crypto)

    def copy(self) -> Frontier:
        return Frontier(self.size, self._stack, self.crypto)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the ``(level, index, hash)`` of every subtree completed."""
        idx, level, cur = self.size, 0, leaf
        made = [(0, idx, cur)]
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            cur = node_hash(left, cur, self.crypto)
            level += 1
            idx >>= 1
            made.append((level, idx, cur))
        self._stack.append((level, cur))
        self.size += 1
        return made

    def add(self, leaf: bytes, made: dict[int, list[tuple[int, bytes]]]) -> None:
        """:meth:`append` for a caller that collects subtrees by level: add a leaf hash and put
        the ``(index, hash)`` of every subtree above the leaf it completes in ``made[level]``.

        The same tree as :meth:`append`, without the list it returns (most leaves complete
        nothing above themselves); a checker of millions of leaves calls this.
        """
        stack = self._stack
        hash_fn = self.crypto.hash_fn
        idx, level, cur = self.size, 0, leaf
        while stack and stack[-1][0] == level:
            cur = hash_fn(b"\x01" + stack.pop()[1] + cur)
            level += 1
            idx >>= 1
            made.setdefault(level, []).append((idx, cur))
        stack.append((level, cur))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return empty_root(self.crypto)
        acc = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc, self.crypto)
        return acc
