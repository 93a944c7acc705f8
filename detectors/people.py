"""Count the distinct people behind contact findings (e-mail addresses, phone numbers).

A policy threshold such as "contact data of 5 or more people" needs people, not
matches: the same address twice is one person, and an e-mail and a phone number
in the same table row are one person. Values are joined into people with a
union-find:

- in tables and JSON, everything in one record (row/object) is one person;
- in prose, the values on one line are one person when the line holds at most
  one value of each type (a signature line), and likewise for a paragraph (a
  signature block); a line listing ten addresses is ten people;
- the same value wherever it appears is the same person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from detectors.entities import CONTACT_ENTITIES
from detectors.findings import Finding, Layout

_Node = tuple[str, str]  # (entity, digest)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[_Node, _Node] = {}

    def add(self, node: _Node) -> None:
        self.parent.setdefault(node, node)

    def find(self, node: _Node) -> _Node:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: _Node, b: _Node) -> None:
        self.parent[self.find(a)] = self.find(b)

    def components(self) -> int:
        return sum(1 for node in self.parent if self.find(node) == node)


def count_people(findings: Iterable[Finding], contact_entities: frozenset[str] = CONTACT_ENTITIES) -> int:
    """Number of distinct people the contact findings belong to."""
    uf = _UnionFind()
    rows: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    lines: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    blocks: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    for f in findings:
        if f.entity not in contact_entities:
            continue
        node = (f.entity, f.digest)
        uf.add(node)
        where = f.location
        if f.layout is Layout.PROSE:
            lines[(where.part, where.record)].add(node)
            blocks[(where.part, where.block)].add(node)
        else:
            rows[(where.part, where.record)].add(node)
    for nodes in rows.values():
        _join(uf, nodes)
    for group in (lines, blocks):
        for nodes in group.values():
            if _at_most_one_per_type(nodes):
                _join(uf, nodes)
    return uf.components()


def _join(uf: _UnionFind, nodes: set[_Node]) -> None:
    first, *rest = nodes
    for node in rest:
        uf.union(first, node)


def _at_most_one_per_type(nodes: set[_Node]) -> bool:
    types = [entity for entity, _ in nodes]
    return len(types) == len(set(types))
