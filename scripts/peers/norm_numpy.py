#!/usr/bin/env python3
"""NumPy cross-check of shardkit's score normalisation
(algorithms/src/backend/norm).

    python3 scripts/peers/norm_numpy.py FILE.npz

FILE.npz holds what the test `numpy_cross_check_when_available` in
algorithms/tests/norm.rs writes (every array float64):

  trials (M x T), mask (M x T, 1 where a trial)   raw trial scores
  enrol_cohort (M x C1)    trial models x (cohort segments and others)
  cohort_test (C2 x T)     (cohort models and others) x test segments
  cohort_cohort (C3 x C4)  (T-norm cohort models and others) x
                           (Z-norm cohort segments and others)
  z_cols   columns of enrol_cohort that are the cohort, in cohort order
  t_rows   rows of cohort_test that are the cohort
  zt_test_rows, zt_cc_rows  rows of cohort_test / cohort_cohort that are
                            the T-norm cohort of ZT-norm
  zt_cc_cols  columns of cohort_cohort that are the Z-norm cohort
  zt_self  for each T-norm cohort model, the position in the Z-norm cohort
           of the id it shares, -1 if none
  top_n    (1,) AS-norm's top_n
  out_z, out_t, out_zt, out_s, out_as   Rust's results (M x T, NaN off
                                        the mask)

and recomputes each method with array operations, the standard deviation
being NumPy's default (ddof=0):

  Z   (s - mean_z[m]) / std_z[m], over the cohort columns of enrol_cohort
  T   (s - mean_t[t]) / std_t[t], over the cohort rows of cohort_test
  S   the mean of the two
  AS  as S, each side over its top_n highest cohort scores (np.sort)
  ZT  Z, then T with the cohort rows of cohort_test Z-normalised by the
      statistics of their cohort_cohort rows over the Z-norm cohort, each
      leaving out the column with its own id (np.ma masks the self-score)

Prints "ok" and exits 0 when every result agrees to 1e-10 (relative);
raises otherwise.
"""

import sys

import numpy as np


def close(got, want, mask, what, tol=1e-10):
    assert np.all(np.isnan(got[~mask])), f"{what}: values off the trial mask"
    err = np.max(np.abs(got[mask] - want[mask]) / (1.0 + np.abs(want[mask])))
    assert err < tol, f"{what}: relative difference {err:.3e} >= {tol:.0e}"


def main(path):
    d = np.load(path)
    s, mask = d["trials"], d["mask"] == 1
    idx = {k: d[k].astype(int) for k in ("z_cols", "t_rows", "zt_test_rows", "zt_cc_rows", "zt_cc_cols")}
    n = int(d["top_n"][0])

    enrol = d["enrol_cohort"][:, idx["z_cols"]]  # M x cohort
    test = d["cohort_test"][idx["t_rows"], :]  # cohort x T

    z = (s - enrol.mean(axis=1, keepdims=True)) / enrol.std(axis=1, keepdims=True)
    t = (s - test.mean(axis=0, keepdims=True)) / test.std(axis=0, keepdims=True)
    close(d["out_z"], z, mask, "Z-norm")
    close(d["out_t"], t, mask, "T-norm")
    close(d["out_s"], 0.5 * (z + t), mask, "S-norm")

    enrol_top = np.sort(enrol, axis=1)[:, -n:]
    test_top = np.sort(test, axis=0)[-n:, :]
    as_norm = 0.5 * (
        (s - enrol_top.mean(axis=1, keepdims=True)) / enrol_top.std(axis=1, keepdims=True)
        + (s - test_top.mean(axis=0, keepdims=True)) / test_top.std(axis=0, keepdims=True)
    )
    close(d["out_as"], as_norm, mask, "AS-norm")

    # ZT-norm: a T-norm cohort model's score against the Z-norm cohort
    # segment with its own id (zt_self: that segment's position in the
    # Z-norm cohort, -1 for none) is masked out of its statistics.
    cc = d["cohort_cohort"]
    block = cc[np.ix_(idx["zt_cc_rows"], idx["zt_cc_cols"])]  # T-cohort x Z-cohort
    own = np.zeros(block.shape, dtype=bool)
    for j, k in enumerate(d["zt_self"].astype(int)):
        if k >= 0:
            own[j, k] = True
    assert own.any(), "the data has no shared cohort ids"
    kept = np.ma.masked_array(block, mask=own)
    cz_mean = kept.mean(axis=1).filled()
    cz_std = kept.std(axis=1).filled()
    tz = (d["cohort_test"][idx["zt_test_rows"], :] - cz_mean[:, None]) / cz_std[:, None]
    zt = (z - tz.mean(axis=0, keepdims=True)) / tz.std(axis=0, keepdims=True)
    close(d["out_zt"], zt, mask, "ZT-norm")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
