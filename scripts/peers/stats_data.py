#!/usr/bin/env python3
"""Generate the bench data of issue 14 (statistics / linear-algebra algorithms).

Usage::

    python stats_data.py --out DIR [--rows 2000000] [--cols 60] [--parts 4]
                         [--seed 0] [--classes 5] [--csv]

Writes, for i in 0..parts-1 (float64, C order, ``.npy`` via ``numpy.save``
format, row blocks of one data set; part i holds rows
``i*rows/parts .. (i+1)*rows/parts``; when ``rows`` is not divisible, the
first ``rows % parts`` parts hold one row more):

``part{i}.npy``      rows_i x cols
    Correlated Gaussian columns with different means and scales:
    ``x = mu + (z @ M) * s``, ``z ~ N(0, I)``, ``M`` a random mixing matrix
    (``M = G / sqrt(cols)``, G standard normal, so the covariance
    ``diag(s) M'M diag(s)`` is full rank but correlated), ``mu`` uniform in
    [-10, 10], ``s`` log-uniform in [0.1, 10].
``reg_part{i}.npy``  rows_i x (cols + 2)
    The same feature rows as ``part{i}.npy`` followed by two target columns
    ``y = x @ B + b0 + e``, ``B`` (cols x 2) standard normal / sqrt(cols) /
    ``s`` (so each feature's contribution is O(1)), ``b0`` = (1.5, -2.0),
    ``e ~ N(0, 0.5^2)`` independent per target.
``nb_part{i}.npy``   rows_i x (cols + 1)
    Multinomial counts (non-negative integers stored as float64) with
    class-dependent probabilities, then the label (0..classes-1, as float64)
    in the last column. Labels are drawn with unequal class frequencies
    ``pi`` (Dirichlet(5)); the counts of a row of class c are
    ``Multinomial(n_row, p_c)`` with ``n_row = 1 + Poisson(40)`` and ``p_c ~
    Dirichlet(0.5 * 1)`` over the cols categories.
``truth.npz``
    The generating parameters: ``mu``, ``scale`` (s), ``mixing`` (M),
    ``coef`` (B, cols x 2), ``intercept`` (b0), ``class_prior`` (pi),
    ``class_prob`` (classes x cols, the p_c), ``rows_per_part``.
``meta.json``
    The command-line parameters, the file list and the generator (NumPy
    PCG64, seed sequence ``SeedSequence(seed)``; its first child gives the
    parameters, child i+1 gives part i).

``--csv`` also writes ``file{i}.csv``, ``reg_file{i}.csv``, ``nb_file{i}.csv``
(the same arrays; no header, comma separated, ``%.17g`` so the float64 values
round-trip exactly). Meant for small sizes (CSV is ~2.5x larger and slow).

Generation is vectorised and chunked (``CHUNK_ROWS`` rows at a time, written
into ``numpy.lib.format.open_memmap`` files), so memory stays far below 4 GB
for any size. The data are a pure function of (seed, rows, cols, parts,
classes): CHUNK_ROWS is fixed, and each part has its own random stream.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

CHUNK_ROWS = 131072
N_TARGETS = 2
NOISE_SD = 0.5
MEAN_COUNTS = 40.0


def part_sizes(rows, parts):
    """Rows of each part: rows // parts, the first rows % parts get one more."""
    base, extra = divmod(rows, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def make_params(rng, cols, classes):
    """Draw the generating parameters (means, scales, mixing, coefficients, NB)."""
    mu = rng.uniform(-10.0, 10.0, cols)
    scale = np.exp(rng.uniform(np.log(0.1), np.log(10.0), cols))
    mixing = rng.standard_normal((cols, cols)) / np.sqrt(cols)
    coef = rng.standard_normal((cols, N_TARGETS)) / np.sqrt(cols) / scale[:, None]
    intercept = np.array([1.5, -2.0])[:N_TARGETS]
    class_prior = rng.dirichlet(np.full(classes, 5.0))
    class_prob = rng.dirichlet(np.full(cols, 0.5), classes)
    return dict(mu=mu, scale=scale, mixing=mixing, coef=coef, intercept=intercept,
                class_prior=class_prior, class_prob=class_prob)


def gen_chunk(rng, n, prm):
    """One chunk of n rows: features (n x cols), regression block, NB block."""
    cols = prm["mu"].size
    z = rng.standard_normal((n, cols))
    x = z @ prm["mixing"]
    x *= prm["scale"]
    x += prm["mu"]
    reg = np.empty((n, cols + N_TARGETS))
    reg[:, :cols] = x
    reg[:, cols:] = x @ prm["coef"] + prm["intercept"] + NOISE_SD * rng.standard_normal((n, N_TARGETS))
    classes = prm["class_prior"].size
    labels = rng.choice(classes, size=n, p=prm["class_prior"])
    totals = 1 + rng.poisson(MEAN_COUNTS, n)
    nb = np.empty((n, cols + 1))
    for c in range(classes):
        idx = np.flatnonzero(labels == c)
        if idx.size:
            nb[idx, :cols] = rng.multinomial(totals[idx], prm["class_prob"][c])
    nb[:, cols] = labels
    return x, reg, nb


def write_csv(path, arr):
    """Write arr as a header-less CSV with round-trip float64 precision."""
    with open(path, "w") as fh:
        for start in range(0, arr.shape[0], CHUNK_ROWS):
            np.savetxt(fh, arr[start:start + CHUNK_ROWS], fmt="%.17g", delimiter=",")


def generate(out, rows, cols, parts, seed, classes, csv):
    """Write all parts into out; returns the list of written file names."""
    os.makedirs(out, exist_ok=True)
    children = np.random.SeedSequence(seed).spawn(parts + 1)
    prm = make_params(np.random.Generator(np.random.PCG64(children[0])), cols, classes)
    sizes = part_sizes(rows, parts)
    np.savez(os.path.join(out, "truth.npz"), rows_per_part=np.array(sizes), **prm)
    files = ["truth.npz"]
    for i, n_i in enumerate(sizes):
        rng = np.random.Generator(np.random.PCG64(children[i + 1]))
        names = [f"part{i}.npy", f"reg_part{i}.npy", f"nb_part{i}.npy"]
        shapes = [(n_i, cols), (n_i, cols + N_TARGETS), (n_i, cols + 1)]
        maps = [np.lib.format.open_memmap(os.path.join(out, nm), mode="w+", dtype=np.float64,
                                          shape=sh) for nm, sh in zip(names, shapes)]
        for start in range(0, n_i, CHUNK_ROWS):
            n = min(CHUNK_ROWS, n_i - start)
            for m, block in zip(maps, gen_chunk(rng, n, prm)):
                m[start:start + n] = block
        for m in maps:
            m.flush()
        files += names
        if csv:
            for nm, m in zip(["file", "reg_file", "nb_file"], maps):
                write_csv(os.path.join(out, f"{nm}{i}.csv"), m)
                files.append(f"{nm}{i}.csv")
        del maps
    return files


def main(argv=None):
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--rows", type=int, default=2_000_000, help="total rows (default 2,000,000)")
    ap.add_argument("--cols", type=int, default=60, help="feature columns (default 60)")
    ap.add_argument("--parts", type=int, default=4, help="number of row blocks / files (default 4)")
    ap.add_argument("--classes", type=int, default=5, help="naive Bayes classes (default 5)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the SeedSequence (default 0)")
    ap.add_argument("--csv", action="store_true", help="also write the CSV copies (small sizes)")
    args = ap.parse_args(argv)
    if args.rows < args.parts or args.parts < 1 or args.cols < 1 or args.classes < 2:
        ap.error("need rows >= parts >= 1, cols >= 1, classes >= 2")
    if args.csv and args.rows > 1_000_000:
        print("warning: --csv at more than 1,000,000 rows is slow and large", file=sys.stderr)
    t0 = time.perf_counter()
    files = generate(args.out, args.rows, args.cols, args.parts, args.seed, args.classes, args.csv)
    elapsed = time.perf_counter() - t0
    meta = dict(vars(args), chunk_rows=CHUNK_ROWS, targets=N_TARGETS, noise_sd=NOISE_SD,
                mean_counts=MEAN_COUNTS, rows_per_part=part_sizes(args.rows, args.parts),
                files=files, numpy=np.__version__, generator="PCG64(SeedSequence(seed).spawn(parts+1))")
    with open(os.path.join(args.out, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"wrote {len(files)} files to {args.out} in {elapsed:.2f} s "
          f"({args.rows} x {args.cols}, {args.parts} parts)")


if __name__ == "__main__":
    main()
