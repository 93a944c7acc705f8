"""Count the distinct people behind contact findings (e-mail addresses, phone numbers).

A policy threshold such as "contact data of 5 or more people" needs people, not
matches: the same address twice is one person, and an e-mail and a phone number
in the same table row are one person. Values are joined into people with a
union-find:

- in tables and JSON, everything in one record (row/object) is one person;
- a record with a person's name (``PERSON``, from a name column) is that
  person: records with the same name are one person, and a value shared by
  records with different names (a switchboard number, ``info@``) does not join
  them;
- in prose, the values on one line are one person when the line holds at most
  one value of each type (a signature line), and likewise for a paragraph (a
  signature block); a line listing ten addresses is ten people;
- otherwise the same value wherever it appears is the same person.

Only people with at least one value of the counted types count: a list of
names alone is not contact data, unless the policy counts ``PERSON`` too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from detectors.entities import CONTACT_ENTITIES, PERSON
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



def count_people(findings: Iterable[Finding], contact_entities: frozenset[str] = CONTACT_ENTITIES) -> int:
    """Number of distinct people with at least one finding of ``contact_entities``."""
    uf = _UnionFind()
    counted: set[_Node] = set()
    rows: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    names: dict[tuple[int, int], set[str]] = defaultdict(set)
    lines: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    blocks: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    for f in findings:
        where = f.location
        if f.entity == PERSON and f.layout is not Layout.PROSE:
            names[(where.part, where.record)].add(f.digest)
        if f.entity not in contact_entities:
            continue
        node = (f.entity, f.digest)
        if f.layout is Layout.PROSE:
            uf.add(node)
            counted.add(node)
            lines[(where.part, where.record)].add(node)
            blocks[(where.part, where.block)].add(node)
        else:
            rows[(where.part, where.record)].add(node)
    for row, nodes in rows.items():
        name = names.get(row)
        if name:  # the row is this person; its values do not join other rows
            person = (PERSON, "|".join(sorted(name)))
            uf.add(person)
            counted.add(person)
            continue
        for node in nodes:
            uf.add(node)
            counted.add(node)
        _join(uf, nodes)
    if PERSON in contact_entities:  # names alone count when the policy says so
        for row, name in names.items():
            if row not in rows:
                person = (PERSON, "|".join(sorted(name)))
                uf.add(person)
                counted.add(person)
    for group in (lines, blocks):
        for nodes in group.values():
            if _at_most_one_per_type(nodes):
                _join(uf, nodes)
    return len({uf.find(node) for node in counted})


def _join(uf: _UnionFind, nodes: set[_Node]) -> None:
    first, *rest = nodes
    for node in rest:
        uf.union(first, node)


def _at_most_one_per_type(nodes: set[_Node]) -> bool:
    types = [entity for entity, _ in nodes]
    return len(types) == len(set(types))
