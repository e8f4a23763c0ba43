"""The split of a folder job over workers (jaxfuse.partition), against a plain reference rule."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxfuse.partition import Share, names_digest, owned_names, parse_part, take_share

NAMES = st.lists(st.text(alphabet="ab.-_0189xyz", min_size=1, max_size=6), max_size=60)


def reference_owner(names, count):
    """name -> worker, written independently: walk the sorted unique names, dealing them out."""
    owner, worker = {}, 0
    for name in sorted(set(names)):
        owner[name] = worker
        worker = (worker + 1) % count
    return owner


@settings(max_examples=200, deadline=None)
@given(names=NAMES, count=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_parts_cover_every_name_once_whatever_the_listing_order(names, count, seed):
    parts = [owned_names(names, Share(i, count)) for i in range(count)]
    assert set().union(*parts) == set(names)  # together: every name
    assert sum(len(p) for p in parts) == len(set(names))  # disjoint
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced
    shuffled = list(names) + random.Random(seed).sample(names, len(names))  # other order, duplicates
    random.Random(seed).shuffle(shuffled)
    assert [owned_names(shuffled, Share(i, count)) for i in range(count)] == parts
    owner = reference_owner(names, count)
    assert all(owner[n] == i for i, part in enumerate(parts) for n in part)


@settings(max_examples=100, deadline=None)
@given(names=NAMES, outer=st.integers(1, 4), inner=st.integers(1, 4), data=st.data())
def test_a_part_split_again_is_one_flat_share(names, outer, inner, data):
    i, j = data.draw(st.integers(0, outer - 1)), data.draw(st.integers(0, inner - 1))
    part = owned_names(names, Share(i, outer))
    nested = owned_names(part, Share(j, inner))  # the part's names, ranked among themselves
    flat = Share(i, outer, "part").within(Share(j, inner, "process"))
    assert flat.count == outer * inner and flat.label == "part, process"
    assert owned_names(names, flat) == nested


@settings(max_examples=100, deadline=None)
@given(names=NAMES, failed=NAMES, count=st.integers(1, 5))
def test_take_share_splits_pairs_and_pairing_failures_by_one_ranking(names, failed, count):
    items = [("item", n) for n in sorted(set(names))]
    failures = [(n, f"{n}: no partner") for n in failed]
    every = {n for _, n in items} | set(failed)
    seen_items, seen_failures = [], []
    for index in range(count):
        mine, my_failures, total = take_share(items, failures, Share(index, count), name=lambda item: item[1])
        assert total == len(every)
        owned = owned_names(every, Share(index, count))
        assert list(mine) == [item for item in items if item[1] in owned]  # order kept
        assert mine[:] == list(mine) and len(mine) == len(list(mine))
        assert my_failures == [f for f in failures if f[0] in owned]
        seen_items += list(mine)
        seen_failures += my_failures
    assert sorted(seen_items) == sorted(items)
    assert sorted(seen_failures) == sorted(failures)


def test_take_share_reads_a_lazy_sequence_only_on_access():
    class Lazy:
        def __init__(self):
            self.reads = 0

        def __len__(self):
            return 6

        def __getitem__(self, index):
            if not 0 <= index < 6:
                raise IndexError(index)
            self.reads += 1
            return f"n{index}"

    lazy = Lazy()
    mine, _, _ = take_share(lazy, [], Share(1, 2), name=str)
    listed = lazy.reads
    assert mine[0] == "n1" and mine[-1] == "n5" and len(mine) == 3
    assert lazy.reads == listed + 2  # each access reads one item, nothing is copied


@pytest.mark.parametrize(("text", "index", "count"), [("1/1", 0, 1), ("2/4", 1, 4), ("4/4", 3, 4), ("10/12", 9, 12)])
def test_parse_part_is_one_based(text, index, count):
    share = parse_part(text)
    assert (share.index, share.count, share.label) == (index, count, f"part {text}")


@pytest.mark.parametrize(
    "text", ["0/4", "5/4", "1/0", "0/0", "-1/4", "2", "2/", "/4", "a/b", "2/4/1", " 2/4", "2.0/4", "+2/4"]
)
def test_parse_part_refuses_malformed_text(text):
    with pytest.raises(ValueError, match="K/N"):
        parse_part(text)


@pytest.mark.parametrize(("index", "count"), [(-1, 2), (2, 2), (0, 0)])
def test_share_refuses_an_index_outside_its_count(index, count):
    with pytest.raises(ValueError, match="index"):
        Share(index, count)


def test_digest_is_of_the_set_of_names():
    assert names_digest(["b", "a", "a"]) == names_digest(["a", "b"])
    assert names_digest(["a", "b"]) != names_digest(["a", "b", "c"])
    assert names_digest(["ab"]) != names_digest(["a", "b"])  # names are delimited
