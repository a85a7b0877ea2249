#!/usr/bin/env python3
"""Time daal4py, scikit-learn/NumPy and sklearnex on the data of stats_data.py.

Usage (the venv recipe is in scripts/peers/README.md)::

    python stats_daal4py.py --data DIR [--threads N] [--reps 3] [--libs daal4py,sklearn,sklearnex]
                            [--algos a,b,...] [--json FILE]
    mpirun -n 2 python stats_daal4py.py --data DIR --spmd [--threads N] ...   # Intel MPI's mpirun
    python stats_daal4py.py --data SMALLDIR --check OUTDIR                        # reference results

All parts of DIR (``part*.npy``, ``reg_part*.npy``, ``nb_part*.npy``) are read
with ``numpy.load`` into one C-contiguous float64 array per data set first; the
load (and the contiguous copies) is timed and reported separately
("load ..." lines). Only the algorithm call on in-memory data is timed: the
median (and the minimum) wall time of ``--reps`` runs, and the process CPU time
of the median run. With ``--spmd`` (daal4py only, under ``mpirun -n R``) rank r
reads parts r, r+R, r+2R, ..., every rank calls the algorithm with
``distributed=True``, and rank 0 reports the time from just after a barrier to
the return of the call (daal4py broadcasts the result, so the call returns on
all ranks together). The barrier is a distributed ``low_order_moments`` on a
1 x 1 array: it cannot finish before every rank has contributed.

Tasks (``--algos``; the library calls, in order daal4py | sklearn | sklearnex):

============== ===================================================================
moments        ``low_order_moments()`` (all 10 estimates) | ``np.mean``, ``np.var(ddof=1)``,
               ``np.min``, ``np.max`` (axis 0) | ``sklearnex.basic_statistics.BasicStatistics``
covariance     ``covariance()`` | ``np.cov(X, rowvar=False)`` | --
correlation    ``covariance(outputMatrixType="correlationMatrix")`` | ``np.corrcoef`` | --
pca_eigen      ``pca(method="correlationDense")`` | ``PCA(svd_solver="covariance_eigh")`` | same, patched
pca_svd        ``pca(method="svdDense")`` | ``PCA(svd_solver="full")`` | same, patched
qr             ``qr()`` (Q and R) | ``np.linalg.qr(X)`` (reduced) | --
svd            ``svd()`` (U, s, V') | ``np.linalg.svd(X, full_matrices=False)`` | --
linreg_normeq  ``linear_regression_training(method="normEqDense")`` | -- | --
linreg_qr      ``linear_regression_training(method="qrDense")`` | -- | --
linreg         -- | ``LinearRegression()`` (scipy lstsq) | same, patched (oneDAL normal equations)
ridge          ``ridge_regression_training(ridgeParameters=[[alpha]])`` | ``Ridge(alpha)`` | same, patched
naive_bayes    ``multinomial_naive_bayes_training(classes)`` | ``MultinomialNB(alpha=1)`` | same (not in sklearnex's patch map)
kmeans_init    ``kmeans_init(k, method="plusPlusDense")`` | ``sklearn.cluster.kmeans_plusplus`` | --
kmeans         ``kmeans(k, maxIterations=iters, accuracyThreshold=0)`` | ``KMeans(k, init=C0, n_init=1,
               max_iter=iters, tol=0, algorithm="lloyd")`` | same, patched
============== ===================================================================

All regressions fit an intercept; both targets at once. k-means runs from the
same start C0 in every library and mode: ``k`` rows of ``part0.npy`` chosen
without replacement by ``numpy.random.default_rng(seed)`` (every rank reads
them with ``mmap_mode="r"``). sklearnex runs in a separate process (this script
re-invokes itself with ``--libs sklearnex``) after ``sklearnex.patch_sklearn()``;
its notes say whether sklearnex logged "running accelerated version" or a
fallback for the call (no log: the class is not patched).

Threads: ``--threads N`` sets OMP_NUM_THREADS, MKL_NUM_THREADS,
OPENBLAS_NUM_THREADS, NUMEXPR_NUM_THREADS before NumPy is imported, applies
``threadpoolctl.threadpool_limits(N)`` and calls ``daal4py.daalinit(N)`` (which
also sets oneDAL's thread count used by sklearnex). With ``--spmd`` N is the
thread count of each rank (``mpirun -n 2 ... --threads 1`` uses 2 cores).

Output: one line per (library, task): seconds (median), min, CPU, notes;
``--json FILE`` writes ``{"meta": {...}, "load": {...}, "results": [...]}``.

``--check OUTDIR`` does no timing: it writes ``OUTDIR/reference.npz`` (NumPy /
scikit-learn results, names below) and ``OUTDIR/daal4py.npz`` (daal4py's batch
outputs, raw), and prints the largest differences between the two. Use small
data (it also stores k-means labels and runs dense eigendecompositions).

reference.npz (float64 unless said; p = feature columns, t = 2 targets):
  n_rows                    number of rows (int64)
  mean, var, std, min, max  per column; var and std with divisor n - 1
  sum, sumsq                column sums, raw sums of squares
  sumsq_centered            sum of (x - mean)^2
  second_raw                mean of x^2
  variation                 std / mean (daal4py's "variation": coefficient of variation)
  cov, corr                 p x p; cov with divisor n - 1
  pca_cov_eigenvalues       eigenvalues of cov, descending (= sklearn PCA explained_variance_)
  pca_cov_components        p x p, rows = eigenvectors of cov in that order, sign: largest-|.| entry > 0
  pca_cov_explained_variance_ratio
  pca_corr_eigenvalues      eigenvalues of corr, descending (= daal4py pca correlationDense eigenvalues)
  pca_corr_components       rows = eigenvectors of corr, same sign rule (= daal4py batch, isDeterministic)
  pca_svd_values            singular values of the z-scored data (std with n - 1), descending
                            (= daal4py batch pca svdDense "eigenvalues"; = sqrt((n-1) * pca_corr_eigenvalues))
  qr_r                      p x p upper-triangular R of X = QR with non-negative diagonal
  svd_s                     singular values of X (uncentred), descending
  svd_vt                    p x p, rows = right singular vectors, same sign rule
  linreg_coef, linreg_intercept   t x p and t: least squares with intercept (regression features)
  ridge_alpha               scalar
  ridge_coef, ridge_intercept     t x p and t: min ||Y - X W' - b||^2 + alpha ||W||^2 (intercept not penalised)
  nb_class_count, nb_feature_count   classes and classes x p (sums of the counts)
  nb_class_log_prior        log of the empirical class frequencies (sklearn's fit_prior=True)
  nb_class_log_prior_uniform  log(1 / classes) (daal4py's default, LogP)
  nb_feature_log_prob       classes x p: log((count + 1) / (class total + p)) (alpha = 1)
  kmeans_init               k x p, the common start C0
  kmeans_centroids, kmeans_inertia, kmeans_labels (int64), kmeans_n_iter
                            scikit-learn Lloyd after --iters iterations from C0
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TASKS = ["moments", "covariance", "correlation", "pca_eigen", "pca_svd", "qr", "svd",
         "linreg_normeq", "linreg_qr", "linreg", "ridge", "naive_bayes", "kmeans_init", "kmeans"]
DATASET = {"linreg_normeq": "reg", "linreg_qr": "reg", "linreg": "reg", "ridge": "reg",
           "naive_bayes": "nb"}
LIBS = ["daal4py", "sklearn", "sklearnex"]
N_TARGETS = 2


def set_thread_env(threads):
    """Set the thread-count variables; must run before NumPy / daal4py are imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)


def list_parts(data, prefix, rank=0, nranks=1):
    """Sorted part files DIR/{prefix}{i}.npy; rank r of R gets parts r, r+R, ..."""
    parts = []
    i = 0
    while os.path.exists(os.path.join(data, f"{prefix}{i}.npy")):
        parts.append(os.path.join(data, f"{prefix}{i}.npy"))
        i += 1
    if not parts:
        raise SystemExit(f"no {prefix}0.npy in {data} (write the data with stats_data.py)")
    return parts[rank::nranks]


def load_dataset(np, data, kind, rank, nranks):
    """Load one data set (x, reg or nb) into C-contiguous arrays; returns (arrays, seconds)."""
    prefix = {"x": "part", "reg": "reg_part", "nb": "nb_part"}[kind]
    t0 = time.perf_counter()
    blocks = [np.load(f) for f in list_parts(data, prefix, rank, nranks)]
    full = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    del blocks
    if kind == "x":
        out = {"X": np.ascontiguousarray(full, dtype=np.float64)}
    elif kind == "reg":
        out = {"X": np.ascontiguousarray(full[:, :-N_TARGETS]),
               "Y": np.ascontiguousarray(full[:, -N_TARGETS:])}
    else:
        out = {"X": np.ascontiguousarray(full[:, :-1]),
               "labels": np.ascontiguousarray(full[:, -1:])}
    del full
    return out, time.perf_counter() - t0


def common_init(np, data, k, seed):
    """The shared k-means start: k rows of part0.npy picked by default_rng(seed)."""
    part0 = np.load(os.path.join(data, "part0.npy"), mmap_mode="r")
    idx = np.sort(np.random.default_rng(seed).choice(part0.shape[0], k, replace=False))
    return np.ascontiguousarray(part0[idx], dtype=np.float64)


class SklearnexLog:
    """Collects sklearnex's dispatch log lines ("running accelerated version" / "fallback")."""

    def __init__(self):
        import logging
        self.lines = []
        outer = self

        class _Handler(logging.Handler):
            def emit(self, record):
                outer.lines.append(record.getMessage())

        self.logger = logging.getLogger("sklearnex")
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(_Handler())
        self.logger.propagate = False

    def summary(self):
        """Short note from the lines logged since the last call (input checks left out)."""
        lines = [s for s in self.lines if "_assert_all_finite" not in s]
        self.lines = []
        acc = sum("accelerated" in s for s in lines)
        fb = sum("fallback" in s.lower() for s in lines)
        if not lines:
            return "not patched (no sklearnex log)"
        return f"accelerated x{acc}" + (f", fallback x{fb}" if fb else "")


def daal4py_calls(d4p, np, args, distributed):
    """{task: (dataset, fn(arrays) -> result)} for daal4py, batch or distributed."""
    kw = {"distributed": True} if distributed else {}

    def moments(a):
        return d4p.low_order_moments(**kw).compute(a["X"])

    def cov(a):
        return d4p.covariance(**kw).compute(a["X"])

    def corr(a):
        return d4p.covariance(outputMatrixType="correlationMatrix", **kw).compute(a["X"])

    def pca(method):
        def run(a):
            extra = {} if distributed else {"resultsToCompute": "mean|variance|eigenvalue"}
            return d4p.pca(method=method, isDeterministic=True, **extra, **kw).compute(a["X"])
        return run

    def qr(a):
        return d4p.qr(**kw).compute(a["X"])

    def svd(a):
        return d4p.svd(**kw).compute(a["X"])

    def linreg(method):
        def run(a):
            return d4p.linear_regression_training(interceptFlag=True, method=method,
                                                  **kw).compute(a["X"], a["Y"])
        return run

    def ridge(a):
        return d4p.ridge_regression_training(interceptFlag=True,
                                             ridgeParameters=np.array([[args.alpha]]),
                                             **kw).compute(a["X"], a["Y"])

    def nb(a):
        return d4p.multinomial_naive_bayes_training(args.classes, **kw).compute(a["X"], a["labels"])

    def kinit(a):
        # Keep the engine referenced until compute() returns: distributed kmeans_init with a
        # temporary engine (engine=d4p.engines_mt19937(...) inline) segfaults (use after free).
        engine = d4p.engines_mt19937(seed=args.seed)
        res = d4p.kmeans_init(args.k, method="plusPlusDense", engine=engine, **kw).compute(a["X"])
        del engine
        return res

    def kmeans(a):
        return d4p.kmeans(args.k, maxIterations=args.iters, accuracyThreshold=0.0,
                          **kw).compute(a["X"], a["C0"])

    return {"moments": moments, "covariance": cov, "correlation": corr,
            "pca_eigen": pca("correlationDense"), "pca_svd": pca("svdDense"), "qr": qr,
            "svd": svd, "linreg_normeq": linreg("normEqDense"), "linreg_qr": linreg("qrDense"),
            "ridge": ridge, "naive_bayes": nb, "kmeans_init": kinit, "kmeans": kmeans}


def sklearn_calls(np, args, patched):
    """{task: fn(arrays)} for NumPy / scikit-learn (or the sklearnex-patched classes)."""
    import sklearn
    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.naive_bayes import MultinomialNB

    def moments(a):
        x = a["X"]
        return x.mean(0), x.var(0, ddof=1), x.min(0), x.max(0)

    def kmeans(a):
        return KMeans(args.k, init=a["C0"], n_init=1, max_iter=args.iters, tol=0.0,
                      algorithm="lloyd").fit(a["X"])

    calls = {
        "pca_svd": lambda a: PCA(svd_solver="full").fit(a["X"]),
        "linreg": lambda a: LinearRegression().fit(a["X"], a["Y"]),
        "ridge": lambda a: Ridge(alpha=args.alpha).fit(a["X"], a["Y"]),
        "naive_bayes": lambda a: MultinomialNB(alpha=1.0).fit(a["X"], a["labels"].ravel()),
        "kmeans": kmeans,
    }
    if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 5):
        calls["pca_eigen"] = lambda a: PCA(svd_solver="covariance_eigh").fit(a["X"])
    if patched:
        try:
            from sklearnex.basic_statistics import BasicStatistics
            opts = ["mean", "variance", "min", "max"]
            calls["moments"] = lambda a: BasicStatistics(result_options=opts).fit(a["X"])
        except ImportError:
            pass
        return calls
    calls.update({
        "moments": moments,
        "covariance": lambda a: np.cov(a["X"], rowvar=False),
        "correlation": lambda a: np.corrcoef(a["X"], rowvar=False),
        "qr": lambda a: np.linalg.qr(a["X"]),
        "svd": lambda a: np.linalg.svd(a["X"], full_matrices=False),
        "kmeans_init": lambda a: kmeans_plusplus(a["X"], args.k, random_state=args.seed),
    })
    return calls


def time_call(fn, arrays, reps, barrier):
    """Run fn(arrays) reps times; (median, min, CPU of the median run, last result)."""
    walls, cpus, out = [], [], None
    for _ in range(reps):
        out = None
        barrier()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn(arrays)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    order = sorted(range(reps), key=walls.__getitem__)
    return statistics.median(walls), min(walls), cpus[order[reps // 2]], out


def result_note(task, lib, out):
    """A short sanity note about a result (iterations, shapes)."""
    try:
        if task == "kmeans":
            if lib == "daal4py":
                return f"iters={int(out.nIterations.ravel()[0])} obj={float(out.objectiveFunction.ravel()[0]):.6g}"
            return f"iters={out.n_iter_} inertia={out.inertia_:.6g}"
    except AttributeError:
        pass
    return ""


def run_sklearnex_subprocess(args):
    """Re-run this script for sklearnex in a fresh process; returns its JSON results."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sklearnex.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--data", args.data,
               "--threads", str(args.threads), "--reps", str(args.reps), "--libs", "sklearnex",
               "--algos", ",".join(args.algos), "--k", str(args.k), "--iters", str(args.iters),
               "--alpha", str(args.alpha), "--seed", str(args.seed), "--classes",
               str(args.classes), "--json", out, "--quiet-header"]
        subprocess.run(cmd, check=True)
        with open(out) as fh:
            return json.load(fh)


def bench(args):
    """Timing mode: returns the JSON-able report (and prints the lines on rank 0)."""
    import numpy as np
    import threadpoolctl
    threadpoolctl.threadpool_limits(args.threads)
    libs_here = [l for l in args.libs if not (l == "sklearnex" and len(args.libs) > 1)]
    d4p = None
    if "daal4py" in libs_here or "sklearnex" in libs_here or args.spmd:
        import daal4py as d4p
        d4p.daalinit(args.threads)
    rank, nranks = (d4p.my_procid(), d4p.num_procs()) if args.spmd else (0, 1)
    if args.spmd and nranks < 2:
        print("warning: --spmd with one process (launch with Intel MPI's mpirun -n 2)",
              file=sys.stderr)
    log = None
    if "sklearnex" in libs_here:
        from sklearnex import patch_sklearn
        patch_sklearn()
        log = SklearnexLog()   # after patch_sklearn, which installs its own stderr handler

    def barrier():
        if args.spmd:
            d4p.low_order_moments(distributed=True).compute(np.zeros((1, 1)))

    calls = {}
    for lib in libs_here:
        if lib == "daal4py":
            calls[lib] = daal4py_calls(d4p, np, args, args.spmd)
        elif not args.spmd:
            calls[lib] = sklearn_calls(np, args, patched=(lib == "sklearnex"))
    report = {"meta": meta(args, np, d4p, nranks), "load": {}, "results": []}
    say = print if rank == 0 else (lambda *a, **k: None)
    if not args.quiet_header:
        say(f"# {report['meta']['rows_total']} x {report['meta']['cols']}  threads={args.threads}"
            f"  reps={args.reps}  spmd={'n=%d' % nranks if args.spmd else 'no'}  {report['meta']['versions']}")
        say(f"{'library':<10} {'task':<14} {'median_s':>9} {'min_s':>9} {'cpu_s':>9}  notes")
    for kind in ("x", "reg", "nb"):
        tasks = [t for t in args.algos if DATASET.get(t, "x") == kind]
        if not tasks:
            continue
        arrays, secs = load_dataset(np, args.data, kind, rank, nranks)
        report["load"][kind] = secs
        say(f"load       {kind:<14} {secs:9.3f}  rows on rank 0: {arrays['X'].shape[0]}")
        if "kmeans" in tasks:
            arrays["C0"] = common_init(np, args.data, args.k, args.seed)
        for task in tasks:
            for lib, table in calls.items():
                if task not in table:
                    continue
                if log:
                    log.summary()
                med, best, cpu, out = time_call(table[task], arrays, args.reps, barrier)
                note = result_note(task, lib, out)
                if lib == "sklearnex":
                    note = (log.summary() + " " + note).strip()
                del out
                name = f"{lib}-spmd{nranks}" if (args.spmd and lib == "daal4py") else lib
                report["results"].append({"library": name, "task": task, "seconds": med,
                                          "min_seconds": best, "cpu_seconds": cpu,
                                          "threads": args.threads, "reps": args.reps,
                                          "note": note})
                say(f"{name:<10} {task:<14} {med:9.4f} {best:9.4f} {cpu:9.3f}  {note}", flush=True)
        del arrays
    if "sklearnex" in args.libs and len(args.libs) > 1 and not args.spmd and rank == 0:
        sub = run_sklearnex_subprocess(args)
        report["results"] += sub["results"]
        report["meta"]["versions"].update(sub["meta"]["versions"])
    if args.spmd:
        d4p.daalfini()
    return report if rank == 0 else None


def meta(args, np, d4p, nranks):
    """Run parameters and library versions."""
    import importlib.metadata as md
    versions = {"numpy": np.__version__}
    for pkg in ("daal4py", "scikit-learn", "scikit-learn-intelex", "scipy", "impi-rt"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    shapes = [np.load(f, mmap_mode="r").shape for f in list_parts(args.data, "part")]
    rows, shape0 = sum(s[0] for s in shapes), shapes[0]
    return {"data": os.path.abspath(args.data), "rows_total": rows, "cols": shape0[1],
            "threads": args.threads, "reps": args.reps, "spmd": args.spmd, "ranks": nranks,
            "k": args.k, "iters": args.iters, "alpha": args.alpha, "seed": args.seed,
            "versions": versions, "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def sign_fix(rows, np):
    """Flip each row so that its largest-|.| entry is positive (daal4py's isDeterministic rule)."""
    idx = np.argmax(np.abs(rows), axis=1)
    return rows * np.sign(rows[np.arange(rows.shape[0]), idx])[:, None]


def check(args):
    """Write OUTDIR/reference.npz and OUTDIR/daal4py.npz; print the largest differences."""
    import numpy as np
    import threadpoolctl
    threadpoolctl.threadpool_limits(args.threads)
    import daal4py as d4p
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.naive_bayes import MultinomialNB
    d4p.daalinit(args.threads)
    x = load_dataset(np, args.data, "x", 0, 1)[0]["X"]
    reg = load_dataset(np, args.data, "reg", 0, 1)[0]
    nb = load_dataset(np, args.data, "nb", 0, 1)[0]
    n, p = x.shape
    ref = {"n_rows": np.int64(n)}
    mean = x.mean(0)
    ref.update(mean=mean, var=x.var(0, ddof=1), std=x.std(0, ddof=1), min=x.min(0), max=x.max(0),
               sum=x.sum(0), sumsq=(x * x).sum(0), sumsq_centered=((x - mean) ** 2).sum(0),
               second_raw=(x * x).mean(0))
    ref["variation"] = ref["std"] / mean
    ref["cov"] = np.cov(x, rowvar=False)
    ref["corr"] = np.corrcoef(x, rowvar=False)
    for name, mat in (("cov", ref["cov"]), ("corr", ref["corr"])):
        w, v = np.linalg.eigh(mat)
        ref[f"pca_{name}_eigenvalues"] = w[::-1].copy()
        ref[f"pca_{name}_components"] = sign_fix(v[:, ::-1].T.copy(), np)
    ref["pca_cov_explained_variance_ratio"] = ref["pca_cov_eigenvalues"] / ref["pca_cov_eigenvalues"].sum()
    skp = PCA(svd_solver="full").fit(x)
    assert np.allclose(skp.explained_variance_, ref["pca_cov_eigenvalues"], rtol=1e-8, atol=1e-10)
    z = (x - mean) / ref["std"]
    ref["pca_svd_values"] = np.linalg.svd(z, compute_uv=False)
    r = np.linalg.qr(x, mode="r")
    ref["qr_r"] = r * np.sign(np.diag(r))[:, None]
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    ref["svd_s"], ref["svd_vt"] = s, sign_fix(vt, np)
    lr = LinearRegression().fit(reg["X"], reg["Y"])
    ref["linreg_coef"], ref["linreg_intercept"] = lr.coef_, lr.intercept_
    rr = Ridge(alpha=args.alpha, solver="cholesky").fit(reg["X"], reg["Y"])
    ref["ridge_alpha"], ref["ridge_coef"], ref["ridge_intercept"] = np.float64(args.alpha), rr.coef_, rr.intercept_
    mnb = MultinomialNB(alpha=1.0).fit(nb["X"], nb["labels"].ravel())
    ref.update(nb_class_count=mnb.class_count_, nb_feature_count=mnb.feature_count_,
               nb_class_log_prior=mnb.class_log_prior_,
               nb_class_log_prior_uniform=np.full(args.classes, -np.log(args.classes)),
               nb_feature_log_prob=mnb.feature_log_prob_)
    c0 = common_init(np, args.data, args.k, args.seed)
    km = KMeans(args.k, init=c0, n_init=1, max_iter=args.iters, tol=0.0, algorithm="lloyd").fit(x)
    ref.update(kmeans_init=c0, kmeans_centroids=km.cluster_centers_, kmeans_inertia=np.float64(km.inertia_),
               kmeans_labels=km.labels_.astype(np.int64), kmeans_n_iter=np.int64(km.n_iter_))

    dl = {}
    lom = d4p.low_order_moments().compute(x)
    for f in ("minimum", "maximum", "sum", "sumSquares", "sumSquaresCentered", "mean",
              "secondOrderRawMoment", "variance", "standardDeviation", "variation"):
        dl[f"lom_{f}"] = getattr(lom, f).ravel()
    dl["cov_covariance"] = d4p.covariance().compute(x).covariance
    dl["cov_correlation"] = d4p.covariance(outputMatrixType="correlationMatrix").compute(x).correlation
    for m in ("correlationDense", "svdDense"):
        res = d4p.pca(method=m, isDeterministic=True,
                      resultsToCompute="mean|variance|eigenvalue").compute(x)
        for f in ("eigenvalues", "eigenvectors", "means", "variances"):
            dl[f"pca_{m}_{f}"] = np.squeeze(getattr(res, f))
    q = d4p.qr().compute(x)
    dl["qr_matrixR"] = q.matrixR
    sv = d4p.svd().compute(x)
    dl["svd_singularValues"], dl["svd_rightSingularMatrix"] = sv.singularValues.ravel(), sv.rightSingularMatrix
    for m in ("normEqDense", "qrDense"):
        dl[f"linreg_{m}_Beta"] = d4p.linear_regression_training(
            interceptFlag=True, method=m).compute(reg["X"], reg["Y"]).model.Beta
    dl["ridge_Beta"] = d4p.ridge_regression_training(
        interceptFlag=True, ridgeParameters=np.array([[args.alpha]])).compute(reg["X"], reg["Y"]).model.Beta
    nbm = d4p.multinomial_naive_bayes_training(args.classes).compute(nb["X"], nb["labels"]).model
    dl["nb_LogP"], dl["nb_LogTheta"] = nbm.LogP.ravel(), nbm.LogTheta
    kmr = d4p.kmeans(args.k, maxIterations=args.iters, accuracyThreshold=0.0).compute(x, c0)
    dl["kmeans_centroids"], dl["kmeans_objectiveFunction"] = kmr.centroids, kmr.objectiveFunction.ravel()

    os.makedirs(args.check, exist_ok=True)
    np.savez(os.path.join(args.check, "reference.npz"), **ref)
    np.savez(os.path.join(args.check, "daal4py.npz"), **dl)
    pairs = [("mean", "lom_mean"), ("var", "lom_variance"), ("std", "lom_standardDeviation"),
             ("min", "lom_minimum"), ("max", "lom_maximum"), ("sum", "lom_sum"),
             ("sumsq", "lom_sumSquares"), ("sumsq_centered", "lom_sumSquaresCentered"),
             ("second_raw", "lom_secondOrderRawMoment"), ("variation", "lom_variation"),
             ("cov", "cov_covariance"), ("corr", "cov_correlation"),
             ("pca_corr_eigenvalues", "pca_correlationDense_eigenvalues"),
             ("pca_corr_components", "pca_correlationDense_eigenvectors"),
             ("pca_svd_values", "pca_svdDense_eigenvalues"),
             ("pca_corr_components", "pca_svdDense_eigenvectors"),
             ("mean", "pca_correlationDense_means"), ("var", "pca_correlationDense_variances"),
             ("svd_s", "svd_singularValues")]
    rows = [(a, b, ref[a], dl[b]) for a, b in pairs]
    rows.append(("|qr_r|", "|qr_matrixR|", np.abs(ref["qr_r"]), np.abs(dl["qr_matrixR"])))
    rows.append(("|svd_vt|", "|svd_rightSingularMatrix|", np.abs(ref["svd_vt"]), np.abs(dl["svd_rightSingularMatrix"])))
    for m in ("normEqDense", "qrDense"):
        rows.append(("linreg [intercept, coef]", f"linreg_{m}_Beta",
                     np.hstack([ref["linreg_intercept"][:, None], ref["linreg_coef"]]), dl[f"linreg_{m}_Beta"]))
    rows.append(("ridge [intercept, coef]", "ridge_Beta",
                 np.hstack([ref["ridge_intercept"][:, None], ref["ridge_coef"]]), dl["ridge_Beta"]))
    rows += [("nb_class_log_prior_uniform", "nb_LogP", ref["nb_class_log_prior_uniform"], dl["nb_LogP"]),
             ("nb_feature_log_prob", "nb_LogTheta", ref["nb_feature_log_prob"], dl["nb_LogTheta"]),
             ("kmeans_centroids", "kmeans_centroids", ref["kmeans_centroids"], dl["kmeans_centroids"]),
             ("kmeans_inertia", "kmeans_objectiveFunction", ref["kmeans_inertia"], dl["kmeans_objectiveFunction"])]
    print(f"wrote {args.check}/reference.npz ({len(ref)} arrays) and daal4py.npz ({len(dl)} arrays); "
          f"{n} x {p}")
    print(f"{'reference':<28} {'daal4py':<34} {'max |diff| / max |ref|':>22}")
    for a, b, u, v in rows:
        u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
        rel = np.abs(u - v).max() / max(np.abs(u).max(), 1e-300)
        print(f"{a:<28} {b:<34} {rel:22.3e}")


def parse(argv=None):
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring / scripts/peers/README.md.")
    ap.add_argument("--data", required=True, help="folder written by stats_data.py")
    ap.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    ap.add_argument("--reps", type=int, default=3, help="runs per (library, task); median reported")
    ap.add_argument("--libs", default="daal4py,sklearn,sklearnex",
                    help="comma list of daal4py, sklearn, sklearnex (default all)")
    ap.add_argument("--algos", default=",".join(TASKS), help="comma list of tasks (default all)")
    ap.add_argument("--spmd", action="store_true",
                    help="daal4py distributed=True on each rank's parts (run under mpirun)")
    ap.add_argument("--k", type=int, default=64, help="k-means clusters (default 64)")
    ap.add_argument("--iters", type=int, default=10, help="k-means iterations (default 10)")
    ap.add_argument("--alpha", type=float, default=1.0, help="ridge penalty (default 1.0)")
    ap.add_argument("--classes", type=int, default=5, help="naive Bayes classes (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the k-means inits (default 0)")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--check", metavar="OUTDIR", help="write reference results instead of timing")
    ap.add_argument("--quiet-header", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.libs = [s for s in args.libs.split(",") if s]
    args.algos = [s for s in args.algos.split(",") if s]
    bad = [l for l in args.libs if l not in LIBS] + [t for t in args.algos if t not in TASKS]
    if bad:
        ap.error(f"unknown library or task: {bad}; tasks: {TASKS}")
    if args.spmd:
        args.libs = ["daal4py"]
    if args.reps < 1 or args.threads < 1:
        ap.error("--reps and --threads must be >= 1")
    return args


def main(argv=None):
    """Entry point: set the thread variables, then time or check."""
    args = parse(argv)
    set_thread_env(args.threads)
    if args.check:
        check(args)
        return
    report = bench(args)
    if report is not None and args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
