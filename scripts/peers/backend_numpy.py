#!/usr/bin/env python3
"""NumPy cross-check of shardkit's scoring back ends (algorithms/src/backend).

    python3 scripts/peers/backend_numpy.py DIR

DIR holds what the test `numpy_cross_check_when_available` in
algorithms/tests/backend.rs writes:

  data.npz    x (N x d training vectors), labels (N, speaker ids as floats),
              enrol (E x d), test (T x d)
  lda.npz     mean, projection (d x k), eigenvalues (k)     -- Lda::save
  wccn.npz    factor (d x d, lower triangular)              -- Wccn::save
  plda.npz    mean, between, within                         -- Plda::save
  scores.npz  cosine (E x T), plda (E x T)                  -- Rust's scores

and checks them with independent NumPy computations:

  - LDA: the scatter matrices from their definitions; the eigenvalues of
    inv(S_w) S_b (np.linalg.eig) equal Rust's kept ones, S_b v = lambda S_w v,
    and V^T S_w V = I;
  - WCCN: B B^T = inv(W) with W the average of the speakers' covariances;
  - cosine: normalised dot products;
  - PLDA: each LLR as log N([e; t]) under the joint same-speaker Gaussian
    [[S_b + S_w, S_b], [S_b, S_b + S_w]] minus the two marginal
    log-densities N(mu, S_b + S_w), by slogdet and solve.

Prints "ok" and exits 0 when everything agrees; raises otherwise.
"""

import sys

import numpy as np


def log_gauss(z, mean, cov):
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0, "covariance not positive definite"
    diff = z - mean
    quad = diff @ np.linalg.solve(cov, diff)
    return -0.5 * (quad + logdet + len(z) * np.log(2 * np.pi))


def close(a, b, tol, what):
    err = np.max(np.abs(np.asarray(a) - np.asarray(b)) / (1.0 + np.abs(np.asarray(b))))
    assert err < tol, f"{what}: relative difference {err:.3e} >= {tol:.0e}"


def main(d):
    data = np.load(f"{d}/data.npz")
    x, labels = data["x"], data["labels"].astype(int)
    enrol, test = data["enrol"], data["test"]
    n, dim = x.shape
    speakers = np.unique(labels)

    # Scatter matrices from their definitions.
    mean = x.mean(axis=0)
    sw = np.zeros((dim, dim))
    sb = np.zeros((dim, dim))
    w_avg = np.zeros((dim, dim))
    for s in speakers:
        xs = x[labels == s]
        c = xs - xs.mean(axis=0)
        sw += c.T @ c
        w_avg += c.T @ c / len(xs)
        m = xs.mean(axis=0) - mean
        sb += len(xs) * np.outer(m, m)
    sw /= n
    sb /= n
    w_avg /= len(speakers)

    lda = np.load(f"{d}/lda.npz")
    v, lam = lda["projection"], lda["eigenvalues"]
    k = v.shape[1]
    close(lda["mean"], mean, 1e-12, "LDA mean")
    ev = np.sort(np.linalg.eig(np.linalg.solve(sw, sb))[0].real)[::-1][:k]
    close(lam, ev, 1e-8, "LDA eigenvalues")
    close(sb @ v, sw @ v * lam, 1e-8, "LDA S_b v = lambda S_w v")
    close(v.T @ sw @ v, np.eye(k), 1e-9, "LDA V^T S_w V")

    b = np.load(f"{d}/wccn.npz")["factor"]
    close(b @ b.T, np.linalg.inv(w_avg), 1e-8, "WCCN B B^T = inv(W)")

    scores = np.load(f"{d}/scores.npz")
    en = enrol / np.linalg.norm(enrol, axis=1, keepdims=True)
    tn = test / np.linalg.norm(test, axis=1, keepdims=True)
    close(scores["cosine"], en @ tn.T, 1e-12, "cosine scores")

    plda = np.load(f"{d}/plda.npz")
    mu, sbw, sww = plda["mean"], plda["between"], plda["within"]
    tot = sbw + sww
    joint = np.block([[tot, sbw], [sbw, tot]])
    mu2 = np.concatenate([mu, mu])
    ours = np.empty((len(enrol), len(test)))
    for i, e in enumerate(enrol):
        for j, t in enumerate(test):
            ours[i, j] = (
                log_gauss(np.concatenate([e, t]), mu2, joint)
                - log_gauss(e, mu, tot)
                - log_gauss(t, mu, tot)
            )
    close(scores["plda"], ours, 1e-8, "PLDA LLRs")
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
