#!/usr/bin/env python3
"""NumPy float64 peer of shardkit's total-variability (i-vector) EM, for speed and value comparisons.

    python3 scripts/peers/tv_numpy.py --components 256 --dim 40 --rank 100 --sessions 1000 \\
        --threads 1 --write /tmp/tv256            # generate, save, time one iteration
    python3 scripts/peers/tv_numpy.py --load /tmp/tv256 --threads 2 --out /tmp/tv256/numpy

Data folder format (--write / --load; shared with tv_sidekit.py and the Rust tests):
  ubm.npz     weights (C), means (C x D), variances (C x D)           float64
  zero.npy    S x C        zero-order stats N_sc = sum_t gamma_tc      float64
  first.npy   S x C*D      raw (uncentred) first-order stats
                           F_s[c*D + d] = sum_t gamma_tc x_td (component-major)
  t_init.npy  C*D x R      initial T in the feature domain (NOT whitened); row c*D + d
The generated data are float32-representable (so SIDEKIT's float32 HDF5 stat
files hold them exactly); t_init = diag(sqrt(var)) * randn, which is SIDEKIT's
own random start (its F = Sigma^-1/2 T is randn).

Model (Kenny / Dehak; the UBM means and variances Sigma are fixed):
  supervector of session s = m + T w_s,  w_s ~ N(0, I)
  centred stats     F~_sc = F_sc - N_sc mu_c                    (once, before EM)
  precompute        P_c = T_c' Sigma_c^-1 T_c  (C x R x R),  Q = Sigma^-1 T  (CD x R)
  E-step, per s     L_s = I + sum_c N_sc P_c     (one GEMM: N (S x C) . P (C x R^2),
                                                  or the upper triangle, C x R(R+1)/2)
                    b_s = sum_c T_c' Sigma_c^-1 F~_sc   (one GEMM: F~ (S x CD) . Q)
                    E[w_s] = L_s^-1 b_s,  E[w w'] = L_s^-1 + E[w] E[w]'
                    (np.linalg.cholesky and np.linalg.inv on the S x R x R stack)
  accumulators      A_c = sum_s N_sc E[ww']_s   (GEMM N' . Eww as S x R^2)
                    Cacc = sum_s F~_s E[w_s]'   (GEMM F~' . E[w], CD x R)
                    Rm  = sum_s E[ww']_s / S
  M-step            T_c = Cacc_c A_c^-1   (batched np.linalg.solve, A_c symmetric)
  minimum divergence (--mindiv):
    lower   (default) T <- T G with G = chol(Rm) lower, Rm = G G'.  Same as w' = G^-1 w:
            the prior of w' stays N(0, I) and the model (T Rm T') is unchanged.
    sidekit T <- T U with U = scipy.linalg.cholesky(Rm) (upper, Rm = U' U) — what
            SIDEKIT 1.4.3.2 does; U U' != Rm in general, so this is NOT an exact
            reparametrisation (kept to reproduce SIDEKIT bit for bit).
    none    no min-div step.
  No prior-mean re-estimation (E[w] is not re-centred), Sigma not updated.
  objective (log p(F~ | N, T) up to a T-independent constant)
            sum_s [ 1/2 b_s' E[w_s] - 1/2 log det L_s ]

Timed: the iteration (E-step with accumulators + M-step + min-div, on
pre-centred stats), and extraction: E[w] only (L, b, batched solve), and with
posterior covariances (L, b, batched inv). Best of --reps (after a warm-up).

--out DIR writes t_new.npy (C*D x R, feature domain, after --iters iterations),
ivectors.npy (S x R: E[w] under t_init, i.e. the first E-step = extraction with
t_init), ivectors_new.npy (S x R: E[w] under t_new) and objective.txt (one line
"<iteration> <objective>" per T: 0 = t_init, k = after k iterations).
"""

import argparse
import os
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--components", "-C", type=int, default=256)
    ap.add_argument("--dim", "-D", type=int, default=40)
    ap.add_argument("--rank", "-R", type=int, default=100)
    ap.add_argument("--sessions", "-S", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=1, help="EM iterations for --out (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load", metavar="DIR", help="read ubm.npz, zero.npy, first.npy, t_init.npy")
    ap.add_argument("--write", metavar="DIR", help="write the generated data in that format")
    ap.add_argument("--out", metavar="DIR", help="write t_new.npy, ivectors.npy, ivectors_new.npy, objective.txt")
    ap.add_argument("--mindiv", choices=("lower", "sidekit", "none"), default="lower")
    ap.add_argument("--packed", choices=("yes", "no"), default="yes",
                    help="L and A via the upper triangle (R(R+1)/2 columns) instead of R^2 (default yes)")
    ap.add_argument("--batch", type=int, default=1000, help="sessions per E-step block (default 1000)")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions, best reported (default 3)")
    return ap.parse_args(argv)


def set_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)


if __name__ == "__main__":
    ARGS = parse_args()
    set_threads(ARGS.threads)  # before NumPy is imported

import numpy as np  # noqa: E402


# ----------------------------------------------------------------------------- BLAS info

_LIMITER = None


def limit_threads(n):
    """threadpoolctl on top of the environment variables, when it is installed."""
    global _LIMITER
    try:
        from threadpoolctl import threadpool_limits
        _LIMITER = threadpool_limits(limits=n)
    except ImportError:
        pass


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        out = []
        for i in threadpool_info():
            out.append("%s %s (%s, %s threads, %s)" % (i.get("internal_api"), i.get("version"),
                       i.get("architecture"), i.get("num_threads"), os.path.basename(i.get("filepath", ""))))
        return "; ".join(out) or "unknown"
    except ImportError:
        cfg = getattr(np, "__config__", None)
        return "unknown (install threadpoolctl); see numpy.show_config()" if cfg else "unknown"


# ----------------------------------------------------------------------------- data

def generate(C, D, R, S, seed=0):
    """Synthetic stats from a TV model, float32-representable; SIDEKIT-like random t_init."""
    rng = np.random.default_rng(seed)
    w = rng.gamma(4.0, size=C)
    w /= w.sum()
    mu = rng.standard_normal((C, D))
    var = rng.uniform(0.5, 2.0, size=(C, D))
    t_true = np.sqrt(var)[:, :, None] * rng.standard_normal((C, D, R)) * (0.5 / np.sqrt(R))
    frames = rng.integers(200, 1001, size=S).astype(np.float64)
    occ = rng.gamma(2.0, size=(S, C)) * w
    occ /= occ.sum(axis=1, keepdims=True)
    N = frames[:, None] * occ
    ws = rng.standard_normal((S, R))
    shift = (ws @ t_true.reshape(C * D, R).T).reshape(S, C, D)
    F = N[:, :, None] * (mu + shift) + np.sqrt(N)[:, :, None] * np.sqrt(var) * rng.standard_normal((S, C, D))
    N = N.astype(np.float32).astype(np.float64)
    F = F.reshape(S, C * D).astype(np.float32).astype(np.float64)
    t_init = np.sqrt(var).reshape(C * D, 1) * rng.standard_normal((C * D, R))
    return dict(weights=w, means=mu, variances=var, zero=N, first=F, t_init=t_init)


def write_dir(d, data):
    os.makedirs(d, exist_ok=True)
    np.savez(os.path.join(d, "ubm.npz"), weights=data["weights"], means=data["means"],
             variances=data["variances"])
    np.save(os.path.join(d, "zero.npy"), data["zero"])
    np.save(os.path.join(d, "first.npy"), data["first"])
    np.save(os.path.join(d, "t_init.npy"), data["t_init"])


def load_dir(d):
    with np.load(os.path.join(d, "ubm.npz")) as z:
        data = {k: np.ascontiguousarray(z[k], dtype=np.float64) for k in ("weights", "means", "variances")}
    for k in ("zero", "first", "t_init"):
        data[k] = np.ascontiguousarray(np.load(os.path.join(d, k + ".npy")), dtype=np.float64)
    C, D = data["means"].shape
    S = data["zero"].shape[0]
    assert data["zero"].shape == (S, C), data["zero"].shape
    assert data["first"].shape == (S, C * D), data["first"].shape
    assert data["t_init"].shape[0] == C * D, data["t_init"].shape
    return data


def get_data(args):
    if args.load:
        data = load_dir(args.load)
    else:
        data = generate(args.components, args.dim, args.rank, args.sessions, args.seed)
    if getattr(args, "write", None):
        write_dir(args.write, data)
    return data


def centre(data):
    """F~ = F - N mu (component-major), and the inverse-variance supervector."""
    C, D = data["means"].shape
    Fc = (data["first"].reshape(-1, C, D) - data["zero"][:, :, None] * data["means"]).reshape(-1, C * D)
    ivar = (1.0 / data["variances"]).reshape(C * D)
    return Fc, ivar


# ----------------------------------------------------------------------------- the EM

class TV:
    def __init__(self, C, D, R, packed=True, batch=1000):
        self.C, self.D, self.R = C, D, R
        self.packed = packed
        self.batch = batch
        self.iu = np.triu_indices(R)
        self.diag = np.arange(R)
        # full (r, r') -> packed upper-triangle column, for unpacking with one np.take
        m = np.empty((R, R), dtype=np.intp)
        k = np.arange(len(self.iu[0]))
        m[self.iu] = k
        m[self.iu[1], self.iu[0]] = k
        self.unpack = m.ravel()

    def precompute(self, T, ivar):
        C, D, R = self.C, self.D, self.R
        Q = T * ivar[:, None]  # Sigma^-1 T, CD x R
        P = np.matmul(T.reshape(C, D, R).transpose(0, 2, 1), Q.reshape(C, D, R))  # C x R x R
        if self.packed:
            P = np.ascontiguousarray(P[:, self.iu[0], self.iu[1]])  # C x R(R+1)/2
        else:
            P = P.reshape(C, R * R)
        return Q, P

    def precisions(self, Nb, P):
        """L_s = I + sum_c N_sc P_c for a block: one GEMM, then unpack."""
        B, R = Nb.shape[0], self.R
        Lp = Nb @ P
        if self.packed:
            L = np.take(Lp, self.unpack, axis=1).reshape(B, R, R)
        else:
            L = Lp.reshape(B, R, R)
        L[:, self.diag, self.diag] += 1.0
        return L

    def blocks(self, S):
        return [slice(i, min(i + self.batch, S)) for i in range(0, S, self.batch)]

    def estep(self, T, ivar, N, Fc, keep_ivectors=False):
        """Accumulators A (C x R^2 or packed), Cacc (CD x R), Rsum (R x R), objective."""
        C, R = self.C, self.R
        S = N.shape[0]
        Q, P = self.precompute(T, ivar)
        A = np.zeros((C, P.shape[1]))
        Cacc = np.zeros((C * self.D, R))
        Rsum = np.zeros((R, R))
        obj = 0.0
        ivecs = np.empty((S, R)) if keep_ivectors else None
        for blk in self.blocks(S):
            Nb, Fb = N[blk], Fc[blk]
            L = self.precisions(Nb, P)
            b = Fb @ Q
            G = np.linalg.cholesky(L)
            logdet = 2.0 * np.log(np.diagonal(G, axis1=1, axis2=2)).sum()
            Linv = np.linalg.inv(L)
            Ew = np.matmul(Linv, b[:, :, None])[:, :, 0]
            obj += 0.5 * np.einsum("sr,sr->", b, Ew) - 0.5 * logdet
            Eww = Linv
            Eww += Ew[:, :, None] * Ew[:, None, :]
            if self.packed:
                A += Nb.T @ Eww[:, self.iu[0], self.iu[1]]
            else:
                A += Nb.T @ Eww.reshape(-1, R * R)
            Cacc += Fb.T @ Ew
            Rsum += Eww.sum(axis=0)
            if keep_ivectors:
                ivecs[blk] = Ew
        return A, Cacc, Rsum, obj, ivecs

    def mstep(self, A, Cacc, Rsum, S, mindiv="lower"):
        C, D, R = self.C, self.D, self.R
        if self.packed:
            A3 = np.take(A, self.unpack, axis=1).reshape(C, R, R)
        else:
            A3 = A.reshape(C, R, R)
        # T_c = Cacc_c A_c^-1  <=>  T_c' = A_c^-1 Cacc_c'  (A_c symmetric)
        Tn = np.linalg.solve(A3, Cacc.reshape(C, D, R).transpose(0, 2, 1))
        Tn = np.ascontiguousarray(Tn.transpose(0, 2, 1)).reshape(C * D, R)
        if mindiv != "none":
            Rm = Rsum / S
            G = np.linalg.cholesky(Rm)  # lower, Rm = G G'
            Tn = Tn @ (G if mindiv == "lower" else G.T)
        return Tn

    def iteration(self, T, ivar, N, Fc, mindiv="lower", keep_ivectors=False):
        A, Cacc, Rsum, obj, ivecs = self.estep(T, ivar, N, Fc, keep_ivectors)
        return self.mstep(A, Cacc, Rsum, N.shape[0], mindiv), obj, ivecs

    def extract(self, T, ivar, N, Fc, cov=False):
        """E[w] (S x R); with cov=True also the posterior covariances L^-1 (S x R x R)."""
        S, R = N.shape[0], self.R
        Q, P = self.precompute(T, ivar)
        ivecs = np.empty((S, R))
        covs = np.empty((S, R, R)) if cov else None
        for blk in self.blocks(S):
            L = self.precisions(N[blk], P)
            b = Fc[blk] @ Q
            if cov:
                Linv = np.linalg.inv(L)
                ivecs[blk] = np.matmul(Linv, b[:, :, None])[:, :, 0]
                covs[blk] = Linv
            else:
                ivecs[blk] = np.linalg.solve(L, b[:, :, None])[:, :, 0]
        return ivecs, covs

    def objective(self, T, ivar, N, Fc):
        Q, P = self.precompute(T, ivar)
        obj = 0.0
        for blk in self.blocks(N.shape[0]):
            L = self.precisions(N[blk], P)
            b = Fc[blk] @ Q
            G = np.linalg.cholesky(L)
            Ew = np.linalg.solve(L, b[:, :, None])[:, :, 0]
            obj += 0.5 * np.einsum("sr,sr->", b, Ew) - np.log(np.diagonal(G, axis1=1, axis2=2)).sum()
        return obj

    def flops(self, S):
        """Flop counts of the iteration's parts (multiply-add = 2)."""
        C, D, R = self.C, self.D, self.R
        K = R * (R + 1) // 2 if self.packed else R * R
        return {
            "P_c = T_c' Sigma^-1 T_c (batched GEMM)": 2 * C * D * R * R,
            "L = N . P (GEMM S x C x %s)" % ("R(R+1)/2" if self.packed else "R^2"): 2 * S * C * K,
            "b = F~ . Sigma^-1 T (GEMM S x CD x R)": 2 * S * C * D * R,
            "A = N' . Eww (GEMM C x S x %s)" % ("R(R+1)/2" if self.packed else "R^2"): 2 * C * S * K,
            "Cacc = F~' . E[w] (GEMM CD x S x R)": 2 * C * D * S * R,
            "chol + inv of L_s (LAPACK, ~R^3/3 + 2R^3 per session)": S * (R ** 3 // 3 + 2 * R ** 3),
            "M-step solves (~2R^3/3 + 2R^2 D per component)": C * (2 * R ** 3 // 3 + 2 * R * R * D),
            "min-div T . G": 2 * C * D * R * R,
        }


CPU = {}  # best process CPU time of each timed quantity (all threads of this process)


def best_time(fn, reps, warmup=True, key=None):
    """Best wall time of reps runs; the best CPU time goes to CPU[key]."""
    if warmup:
        fn()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    if key:
        CPU[key] = best_cpu
    return best


def run(args, data=None, quiet=False):
    """Times one iteration and extraction; returns a dict of results."""
    if data is None:
        data = get_data(args)
    C, D = data["means"].shape
    S = data["zero"].shape[0]
    R = data["t_init"].shape[1]
    tv = TV(C, D, R, packed=(args.packed != "no"), batch=args.batch)
    t0 = time.perf_counter()
    Fc, ivar = centre(data)
    t_centre = time.perf_counter() - t0
    N, T0 = data["zero"], data["t_init"]

    res = {"C": C, "D": D, "R": R, "S": S, "centre_s": t_centre}
    res["iter_s"] = best_time(lambda: tv.iteration(T0, ivar, N, Fc, args.mindiv), args.reps, key="iter_s")
    res["extract_s"] = best_time(lambda: tv.extract(T0, ivar, N, Fc, cov=False), args.reps, key="extract_s")
    res["extract_cov_s"] = best_time(lambda: tv.extract(T0, ivar, N, Fc, cov=True), args.reps, key="extract_cov_s")

    # values (untimed): --iters iterations, objectives, i-vectors
    T = T0
    objs = []
    ivecs0 = None
    for it in range(args.iters):
        T, obj, iv = tv.iteration(T, ivar, N, Fc, args.mindiv, keep_ivectors=(it == 0))
        objs.append(obj)
        if it == 0:
            ivecs0 = iv
    objs.append(tv.objective(T, ivar, N, Fc))
    ivecs_new, _ = tv.extract(T, ivar, N, Fc)
    res.update(t_new=T, ivectors=ivecs0, ivectors_new=ivecs_new, objectives=objs)

    fl = tv.flops(S)
    res["flops"] = fl
    res["cpu"] = dict(CPU)
    if not quiet:
        total = sum(fl.values())
        print("numpy %s, BLAS: %s" % (np.__version__, blas_info()))
        print("C=%d D=%d R=%d S=%d threads=%s packed=%s mindiv=%s batch=%d"
              % (C, D, R, S, args.threads, args.packed != "no", args.mindiv, args.batch))
        print("centring F~ = F - N mu (once, not in the iteration): %.4f s" % t_centre)
        print("TV iteration (E + M + min-div): %.4f s  (%.2f GFLOP, %.1f GFLOP/s; best CPU time %.4f s)"
              % (res["iter_s"], total / 1e9, total / 1e9 / res["iter_s"], CPU["iter_s"]))
        for k, v in fl.items():
            print("    %-58s %8.3f GFLOP" % (k, v / 1e9))
        print("extraction E[w] only:          %.4f s  (best CPU time %.4f s)" % (res["extract_s"], CPU["extract_s"]))
        print("extraction E[w] + covariances: %.4f s  (best CPU time %.4f s)"
              % (res["extract_cov_s"], CPU["extract_cov_s"]))
        for i, o in enumerate(objs):
            print("objective after %d iteration(s): %.10e   (per session %.6f)" % (i, o, o / S))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        np.save(os.path.join(args.out, "t_new.npy"), T)
        np.save(os.path.join(args.out, "ivectors.npy"), ivecs0)
        np.save(os.path.join(args.out, "ivectors_new.npy"), ivecs_new)
        with open(os.path.join(args.out, "objective.txt"), "w") as f:
            for i, o in enumerate(objs):
                f.write("%d %.17g\n" % (i, o))
        if not quiet:
            print("wrote", args.out)
    return res


def main():
    limit_threads(ARGS.threads)
    run(ARGS)


if __name__ == "__main__":
    main()
