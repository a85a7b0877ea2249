#!/usr/bin/env python3
"""Peer timings for algorithms/benches/measure_kmeans.rs: the same data and the
same initial centroids, clustered by scikit-learn (and by scikit-learn-intelex /
daal4py when they are importable), at a given number of threads.

    cargo bench -p shardkit-algorithms --bench measure_kmeans -- --write-data /tmp/km
    python3 scripts/peers/kmeans_sklearn.py --data /tmp/km/data.npy --init /tmp/km/init.npz --threads 1

Times (best and spread of --repeat runs, after one warm-up):
  * sklearn KMeans(algorithm="lloyd", init=<given>, n_init=1, max_iter=1).fit:
    one Lloyd iteration plus scikit-learn's fixed costs (input checks, the
    final relabelling pass, inertia); the line "marginal" subtracts the
    max_iter=1 fit from the max_iter=2 fit (tol=0): the cost of one more
    iteration alone (k-th fastest minus k-th fastest).
  * sklearnex.cluster.KMeans with the same settings, if importable;
  * daal4py.kmeans(maxIterations=1).compute(X, init), if importable, and
    its marginal iteration (maxIterations=2 minus 1);
  * sklearn.cluster.kmeans_plusplus(X, K) (greedy, 2 + ln K local trials).

Thread counts are fixed before numpy is imported (OMP/OpenBLAS/MKL variables)
and again with threadpoolctl; daal4py gets daalinit(threads).
"""
import argparse
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help=".npy file of N x D frames (float32)")
    p.add_argument("--init", required=True, help=".npz with the array 'centroids' (K x D)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
    p.add_argument("--pp-repeat", type=int, default=2, help="timed runs of kmeans_plusplus")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


args = parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans, kmeans_plusplus  # noqa: E402


def timed(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times


def report(name, times, flops=None):
    best, median, worst = times[0], times[len(times) // 2], times[-1]
    extra = f"  ({flops / best / 1e9:.1f} GFLOP/s at best)" if flops else ""
    print(f"{name}: best {best:.4f} s, median {median:.4f} s, worst {worst:.4f} s{extra}", flush=True)


def main():
    X = np.load(args.data)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    C = np.load(args.init)["centroids"].astype(np.float32)
    n, d = X.shape
    k = C.shape[0]
    flops = 2.0 * n * k * d
    print(f"data {n} x {d} float32, {k} clusters, {args.threads} thread(s); scikit-learn {sklearn.__version__}", flush=True)

    with threadpool_limits(limits=args.threads):
        def sk(iters):
            return lambda: KMeans(n_clusters=k, init=C, n_init=1, max_iter=iters, tol=0.0,
                                  algorithm="lloyd", random_state=0).fit(X)
        one = timed(sk(1), args.repeat)
        report("sklearn KMeans lloyd max_iter=1 fit", one, flops)
        two = timed(sk(2), args.repeat)
        marginal = sorted(max(b - a, 1e-9) for a, b in zip(one, two))
        report("sklearn KMeans lloyd marginal iteration (fit(2) - fit(1))", marginal, flops)

        try:
            from importlib.metadata import version
            from sklearnex.cluster import KMeans as KMeansEx

            def ex():
                KMeansEx(n_clusters=k, init=C, n_init=1, max_iter=1, tol=0.0,
                         algorithm="lloyd", random_state=0).fit(X)
            report(f"sklearnex KMeans max_iter=1 fit (scikit-learn-intelex {version('scikit-learn-intelex')})",
                   timed(ex, args.repeat), flops)
        except Exception as e:  # noqa: BLE001
            print(f"sklearnex: not available ({type(e).__name__}: {e})")

        try:
            import daal4py
            daal4py.daalinit(args.threads)

            def d4p(iters):
                return lambda: daal4py.kmeans(nClusters=k, maxIterations=iters, fptype="float",
                                              accuracyThreshold=0.0).compute(X, C)
            d1 = timed(d4p(1), args.repeat)
            report("daal4py kmeans maxIterations=1", d1, flops)
            d2 = timed(d4p(2), args.repeat)
            report("daal4py kmeans marginal iteration (2 - 1)",
                   sorted(max(b - a, 1e-9) for a, b in zip(d1, d2)), flops)
        except Exception as e:  # noqa: BLE001
            print(f"daal4py: not available ({type(e).__name__}: {e})")

        pp = timed(lambda: kmeans_plusplus(X, k, random_state=args.seed), args.pp_repeat)
        report("sklearn kmeans_plusplus", pp)


if __name__ == "__main__":
    sys.exit(main())
