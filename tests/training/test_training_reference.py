"""Unit tests: drift reference histograms and the content-addressed snapshot digest."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from training import data, reference, snapshot

pytestmark = pytest.mark.unit


def test_reference_matches_the_contract_format() -> None:
    df = data.generate(3000, seed=2)
    doc = json.loads(json.dumps(reference.build(df)))  # what the artifact holds
    assert doc["schema"] == 1
    assert set(doc["features"]) == set(data.FEATURES)
    for name, feature in doc["features"].items():
        assert math.isclose(sum(feature["fractions"]), 1.0), name
        if name in data.CATEGORICAL_FEATURES:
            assert feature["kind"] == "categorical"
            assert len(feature["categories"]) == len(feature["fractions"])
            assert set(feature["categories"]) <= set(data.WEATHER)
        else:
            assert feature["kind"] == "numeric"
            edges = feature["edges"]
            assert edges[0] == "-inf"
            assert edges[-1] == "inf"
            interior = [float(e) for e in edges[1:-1]]
            assert interior == sorted(set(interior))
            assert len(feature["fractions"]) == len(edges) - 1


def test_binary_flag_gets_a_single_midpoint_cut() -> None:
    values = np.array([0] * 80 + [1] * 20, dtype=float)
    interior = reference.numeric_edges(values)
    assert interior == [0.5]
    assert reference.numeric_fractions(values, interior) == pytest.approx([0.8, 0.2])


def test_continuous_feature_gets_roughly_equal_bins() -> None:
    values = np.random.default_rng(0).normal(size=10_000)
    interior = reference.numeric_edges(values, bins=10)
    assert len(interior) == 9
    assert reference.numeric_fractions(values, interior) == pytest.approx([0.1] * 10, abs=0.01)


def test_constant_feature_has_one_bin() -> None:
    interior = reference.numeric_edges(np.full(10, 3.0))
    assert interior == []
    assert reference.numeric_fractions(np.full(10, 3.0), interior) == [1.0]


def test_snapshot_digest_depends_on_content_only() -> None:
    df = data.generate(300, seed=4)
    same = data.generate(300, seed=4)
    shuffled_index = df.set_axis(range(1000, 1300))
    assert snapshot.sha256_of(df) == snapshot.sha256_of(same) == snapshot.sha256_of(shuffled_index)
    changed = df.copy()
    changed.loc[0, "recent_speed_kmh"] += 1
    assert snapshot.sha256_of(changed) != snapshot.sha256_of(df)
    assert len(snapshot.sha256_of(df)) == 64


def test_slug_makes_a_safe_key_prefix() -> None:
    assert snapshot.slug("synthetic:rows=10,seed=1,drift=0") == "synthetic-rows-10-seed-1-drift-0"
    assert snapshot.slug("s3://bucket/path/traffic.csv") == "traffic.csv"
