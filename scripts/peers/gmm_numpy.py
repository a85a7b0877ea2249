#!/usr/bin/env python3
"""NumPy float32 peer of shardkit's GMM E-step (the same exact math), for speed comparisons.

    cargo bench -p shardkit-algorithms --bench measure_gmm_estep -- --write /tmp/gmm
    python3 scripts/peers/gmm_numpy.py /tmp/gmm --threads 1
    python3 scripts/peers/gmm_numpy.py /tmp/gmm --threads 2 --peak

DIR holds frames.npy (N x D, float32), weights.npy (M), means.npy and
variances.npy (M x D, float64), as written by measure_gmm_estep's --write.

Or the data and model of measure_gmm_em (the same files and initial model):

    cargo bench -p shardkit-algorithms --bench measure_gmm_em -- --generate 200000 --out /tmp/gmm-bench ...
    python3 scripts/peers/gmm_numpy.py --list /tmp/gmm-bench/list.txt --init /tmp/gmm-bench/init.npz

--list FILE names one .npy file per line (relative paths against the list's folder; blank
lines and "#" comments skipped, as shardkit's read_list), concatenated in order; --init
FILE.npz holds the arrays weights, means, variances. The E-step is timed with that model.

The E-step, per block of frames, in float32 with float64 accumulators:
  y = x - c                       (c: the model's centring offset, as in Rust)
  L = [y^2, y] @ [-1/(2 var), (mu - c)/var]^T + k        (one sgemm, B x M)
  log p(x) = max + log sum exp(L - max);  gamma = exp(L - max) / sum
  [S_c, F_c] += gamma^T @ [y^2, y];  n += sum(gamma)      (one sgemm, M x 2D)
then n, F = F_c + n c, S = S_c + 2 c F_c + n c^2 in float64. One iteration
counts 8 N M D flops, as in Rust. There is no refinement step: this is the
plain float32 arrangement (Rust's `with_refine_margin(None)`).

Prints the best time of --reps iterations (after one warm-up), GFLOP/s,
and the average log-likelihood per frame. --threads sets
OPENBLAS_NUM_THREADS (and the other BLAS thread variables) before NumPy is
imported; --peak also times a 2048^3 float32 matmul (the BLAS peak).
"""

import argparse
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", help="folder with frames.npy, weights.npy, means.npy, variances.npy")
    ap.add_argument("--list", help="list of .npy feature files (instead of DIR/frames.npy)")
    ap.add_argument("--init", help=".npz with weights, means, variances (instead of DIR/*.npy)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--reps", type=int, default=3, help="timed iterations (default 3)")
    ap.add_argument("--block", type=int, default=4096, help="frames per block (default 4096)")
    ap.add_argument("--peak", action="store_true", help="also time a 2048^3 float32 matmul")
    args = ap.parse_args()
    if args.dir is None and (args.list is None or args.init is None):
        ap.error("give DIR, or --list FILE and --init FILE.npz")
    return args


ARGS = parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread variables)

CENTRE_RATIO = 4.0  # as shardkit's gmm::CENTRE_RATIO


def prepare(w, mu, var):
    """The float32 operands of the E-step, and the offset (float64 of the float32 values)."""
    mean = w @ mu
    second = w @ (var + mu * mu)
    spread = np.maximum(second - mean * mean, 0.0)
    offset = np.where(mean * mean <= CENTRE_RATIO**2 * spread, 0.0, mean)
    c = offset.astype(np.float32)
    c64 = c.astype(np.float64)
    p = 1.0 / var
    nu = mu - c64
    proj = np.concatenate([-0.5 * p, p * nu], axis=1).T.astype(np.float32)  # 2D x M
    k = (np.log(w) - 0.5 * np.log(2 * np.pi * var).sum(1) - 0.5 * (p * nu * nu).sum(1))
    return c, c64, np.ascontiguousarray(proj), k.astype(np.float32)


def estep(x, prepared, block):
    c, c64, proj, k = prepared
    n_frames, d = x.shape
    m = proj.shape[1]
    acc = np.zeros((m, 2 * d))  # [S_c, F_c], float64
    zero = np.zeros(m)
    log_lik = 0.0
    for start in range(0, n_frames, block):
        y = x[start:start + block] - c
        a = np.concatenate([y * y, y], axis=1)
        ll = a @ proj
        ll += k
        mx = ll.max(axis=1)
        ll -= mx[:, None]
        np.exp(ll, out=ll)
        s = ll.sum(axis=1, dtype=np.float64)
        log_lik += float((mx.astype(np.float64) + np.log(s)).sum())
        ll *= (1.0 / s).astype(np.float32)[:, None]
        zero += ll.sum(axis=0, dtype=np.float64)
        acc += ll.T @ a
    s_c, f_c = acc[:, :d], acc[:, d:]
    first = f_c + zero[:, None] * c64
    second = s_c + c64 * (2.0 * f_c + zero[:, None] * c64)
    return zero, first, second, log_lik


def best_of(reps, f):
    f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), max(times), out


def read_list(path):
    """The files of a list: one per line, relative to the list's folder; blank lines and
    comments ("#" at the start or after whitespace) skipped."""
    base = os.path.dirname(path)
    files = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            entry = line
            for i, ch in enumerate(line):
                if ch == "#" and (i == 0 or line[i - 1].isspace()):
                    entry = line[:i]
                    break
            entry = entry.strip()
            if entry:
                files.append(entry if os.path.isabs(entry) else os.path.join(base, entry))
    return files


def main():
    if ARGS.list:
        x = np.concatenate([np.load(f) for f in read_list(ARGS.list)]).astype(np.float32, copy=False)
    else:
        x = np.load(os.path.join(ARGS.dir, "frames.npy")).astype(np.float32, copy=False)
    if ARGS.init:
        with np.load(ARGS.init) as z:
            w, mu, var = (z[k].astype(np.float64) for k in ("weights", "means", "variances"))
    else:
        w = np.load(os.path.join(ARGS.dir, "weights.npy"))
        mu = np.load(os.path.join(ARGS.dir, "means.npy"))
        var = np.load(os.path.join(ARGS.dir, "variances.npy"))
    n, d = x.shape
    m = w.shape[0]
    flops = 8.0 * n * m * d
    print(f"numpy {np.__version__}, {ARGS.threads} BLAS thread(s); N = {n}, D = {d}, M = {m}; "
          f"best of {ARGS.reps}")
    if ARGS.peak:
        a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
        b = np.random.default_rng(1).standard_normal((2048, 2048), dtype=np.float32)
        best, worst, _ = best_of(ARGS.reps, lambda: a @ b)
        print(f"  float32 matmul peak (2048^3): {2 * 2048**3 / best / 1e9:7.1f} GFLOP/s "
              f"(spread {100 * (worst / best - 1):.0f}%)")
    prepared = prepare(w, mu, var)
    best, worst, (zero, _, _, log_lik) = best_of(ARGS.reps, lambda: estep(x, prepared, ARGS.block))
    print(f"  E-step: {best:.3f} s per iteration, {flops / best / 1e9:6.1f} GFLOP/s "
          f"(spread {100 * (worst / best - 1):.0f}%)")
    print(f"  average log-likelihood per frame: {log_lik / n:.9f}; sum of zero-order stats: {zero.sum():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
