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

Findings counted in bulk in a table's dense columns (``Swept``: records and
value numbers, no digests) follow the same rules, with numpy arrays in place
of sets: a value there is told apart from other swept values by its number,
and from the findings kept one by one by never being one of them (the same
address in a swept column and in a letter counts twice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from detectors.entities import CONTACT_ENTITIES, PERSON
from detectors.findings import Finding, Layout, Swept

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



def count_people(findings: Iterable[Finding], contact_entities: frozenset[str] = CONTACT_ENTITIES,
                 swept: Sequence[Swept] = ()) -> int:
    """Number of distinct people with at least one finding of ``contact_entities`` (those kept one by one,
    and those counted in bulk)."""
    swept = [s for s in swept if len(s) and (s.entity in contact_entities or s.entity == PERSON)]
    if swept:
        return _count_with_swept(list(findings), contact_entities, swept)
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


def distinct_swept(swept: Iterable[Swept]) -> int:
    """Distinct values among findings counted in bulk (per detector: the same number, the same value)."""
    by_entity: dict[str, list[np.ndarray]] = defaultdict(list)
    for s in swept:
        by_entity[s.entity].append(s.values)
    return sum(len(np.unique(np.concatenate(values))) for values in by_entity.values())


_PART_SHIFT = 40  # a table row as one number: part << _PART_SHIFT | record


def _count_with_swept(findings: list[Finding], contact_entities: frozenset[str], swept: list[Swept]) -> int:
    """``count_people`` when some findings were counted in bulk: rows and values as numbers, in numpy."""
    entity_numbers: dict[str, int] = {}
    nodes: dict[_Node, int] = {}  # findings kept one by one, as numbers below the swept values'

    def node_of(node: _Node) -> int:
        return nodes.setdefault(node, len(nodes))

    # names: rows (numbers) -> a person's key; kept-one-by-one names first (a person: the sorted digests)
    regular_names: dict[int, set[str]] = defaultdict(set)
    row_of_value: list[int] = []
    node_of_value: list[int] = []
    edges: list[tuple[int, int]] = []
    lines: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    blocks: dict[tuple[int, int], set[_Node]] = defaultdict(set)
    prose_nodes: set[int] = set()
    for f in findings:
        where = f.location
        row = where.part << _PART_SHIFT | where.record
        if f.entity == PERSON and f.layout is not Layout.PROSE:
            regular_names[row].add(f.digest)
        if f.entity not in contact_entities:
            continue
        node = (f.entity, f.digest)
        if f.layout is Layout.PROSE:
            prose_nodes.add(node_of(node))
            lines[(where.part, where.record)].add(node)
            blocks[(where.part, where.block)].add(node)
        else:
            row_of_value.append(row)
            node_of_value.append(node_of(node))
    for group in (lines, blocks):
        for linked in group.values():
            if _at_most_one_per_type(linked):
                first, *rest = (nodes[n] for n in linked)
                edges.extend((first, n) for n in rest)
    base = len(nodes)
    # values counted in bulk: numbers above the kept ones, one series per detector
    sizes: dict[str, int] = defaultdict(int)
    for s in swept:
        if s.entity != PERSON or PERSON in contact_entities:
            sizes[s.entity] = max(sizes[s.entity], int(s.values.max()) + 1)
    offset = base
    for entity in sorted(sizes):
        entity_numbers[entity] = offset
        offset += sizes[entity]
    value_rows = [np.asarray(row_of_value, dtype=np.int64)]
    value_nodes = [np.asarray(node_of_value, dtype=np.int64)]
    name_rows, name_keys = [], []
    for s in swept:
        rows = (np.int64(s.part) << _PART_SHIFT) | s.records
        if s.entity == PERSON:
            name_rows.append(rows)
            name_keys.append(s.values)
        if s.entity in entity_numbers:
            value_rows.append(rows)
            value_nodes.append(s.values + entity_numbers[s.entity])
    rows_v = np.concatenate(value_rows)
    nodes_v = np.concatenate(value_nodes)
    # rows with a name are that person (the sorted names); their values join nothing
    swept_named, swept_keys = _row_keys(name_rows, name_keys)
    named = np.union1d(swept_named, np.fromiter(regular_names, dtype=np.int64, count=len(regular_names)))
    with_values = np.unique(rows_v)
    counted_rows = named if PERSON in contact_entities else np.intersect1d(named, with_values)
    regular_keys: set[tuple[object, ...]] = set()
    for row in regular_names.keys() & set(counted_rows.tolist()):
        position = np.searchsorted(swept_named, row)
        also = swept_keys[position] if position < len(swept_named) and swept_named[position] == row else None
        regular_keys.add((tuple(sorted(regular_names[row])), also))
    only_swept = np.setdiff1d(counted_rows, np.fromiter(regular_names, dtype=np.int64, count=len(regular_names)))
    keys = swept_keys[np.searchsorted(swept_named, only_swept)] if len(only_swept) else np.empty(0, np.uint64)
    people = len(np.unique(keys)) + len(regular_keys)
    # rows without a name: their values are one person, and the same value in two rows joins them
    unnamed = ~np.isin(rows_v, named)
    rows_u, nodes_u = rows_v[unnamed], nodes_v[unnamed]
    order = np.lexsort((nodes_u, rows_u))
    rows_u, nodes_u = rows_u[order], nodes_u[order]
    if len(rows_u):
        starts = np.flatnonzero(np.r_[True, rows_u[1:] != rows_u[:-1]])
        firsts = np.repeat(nodes_u[starts], np.diff(np.r_[starts, len(rows_u)]))
    else:
        firsts = nodes_u
    extra = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    counted = np.unique(np.concatenate([nodes_u, np.fromiter(prose_nodes, dtype=np.int64, count=len(prose_nodes))]))
    return people + _components(counted, np.concatenate([firsts, extra[:, 0]]), np.concatenate([nodes_u, extra[:, 1]]))


def _row_keys(rows: list[np.ndarray], keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows with names counted in bulk (sorted) and a key per row standing for its names together."""
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    row = np.concatenate(rows)
    key = np.concatenate(keys).astype(np.uint64)
    order = np.lexsort((key, row))
    row, key = row[order], key[order]
    first = np.r_[True, (row[1:] != row[:-1]) | (key[1:] != key[:-1])]  # a name twice in a row: once (a set)
    row, key = row[first], key[first]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    if len(starts) == len(row):  # one name per row (one name column): the name is the key
        return row, key
    # several (first and last name columns): the names, in order, mixed into one number per row
    rank = (np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (key + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) * (np.uint64(0x94D049BB133111EB) ** rank)
    return row[starts], np.add.reduceat(mixed, starts)


def _components(nodes: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Connected components among ``nodes`` (numbers) joined by the edges ``a[i]``–``b[i]``."""
    if not len(nodes):
        return 0
    index_a, index_b = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    parent = np.arange(len(nodes))
    while True:
        pa, pb = parent[index_a], parent[index_b]
        if np.array_equal(pa, pb):
            return len(np.unique(parent))
        low = np.minimum(pa, pb)
        np.minimum.at(parent, pa, low)
        np.minimum.at(parent, pb, low)
        while True:  # point every node at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
