#!/usr/bin/env python3
"""NumPy peer of shardkit's front end (algorithms/src/frontend): the same documented MFCC recipe, written
independently in numpy only, to cross-check the Rust features.

    python3 scripts/peers/mfcc_numpy.py IN.wav OUT.npy [options]

Reads IN.wav with Python's own `wave` module (mono 16-bit PCM) or, for 32-bit float WAVs, by walking the
RIFF chunks by hand; writes the features (kept frames x columns) to OUT.npy as float64 and prints
"frames N kept K dim D".

The recipe (MfccConfig's defaults in brackets):
  x: samples in [-1, 1) (int16 / 32768)
  y[0] = x[0], y[n] = x[n] - a x[n-1]                                   [a = 0.97]
  frames: W = round(rate * window_ms / 1000) samples every S = round(rate * shift_ms / 1000)
          [25 ms, 10 ms], T = 1 + (len - W) // S whole frames from sample 0
  log-energy e_t = ln(max(sum x^2 over the raw frame, floor))          [floor 1e-10]
  P = |rfft(hamming(W) * y_frame, n=NFFT)|^2, NFFT = next power of two >= W
  mel(f) = 1127 ln(1 + f / 700); F + 2 edges equally spaced in mel from low to high  [F = 24, 20 Hz, Nyquist]
  triangles in mel: (m - l) / (c - l) on (l, c], (r - m) / (r - c) on (c, r)
  log mel L = ln(max(P @ FB^T, floor)); cepstra = orthonormal DCT-II of L, c1..c13 [13, no c0]
  static = [cepstra, e]; delta d_t = sum_n n (x_{t+n} - x_{t-n}) / (2 sum n^2), edges repeated [N = 2];
  features = [static, delta, delta of delta]
  VAD: keep e_t >= max e - threshold_db ln(10) / 10 [30 dB], optional median smoothing, loudest kept
  CMVN over kept frames: (x - mean) / std (population), std < 1e-8 -> centring only
"""

import argparse
import struct
import sys
import wave

import numpy as np


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("wav")
    ap.add_argument("out")
    ap.add_argument("--pre-emphasis", type=float, default=0.97)
    ap.add_argument("--window-ms", type=float, default=25.0)
    ap.add_argument("--shift-ms", type=float, default=10.0)
    ap.add_argument("--n-filters", type=int, default=24)
    ap.add_argument("--low-hz", type=float, default=20.0)
    ap.add_argument("--high-hz", type=float, default=None)
    ap.add_argument("--n-ceps", type=int, default=13)
    ap.add_argument("--include-c0", action="store_true")
    ap.add_argument("--no-energy", action="store_true")
    ap.add_argument("--deltas", type=int, default=2)
    ap.add_argument("--delta-window", type=int, default=2)
    ap.add_argument("--no-vad", action="store_true")
    ap.add_argument("--threshold-db", type=float, default=30.0)
    ap.add_argument("--smooth", type=int, default=0)
    ap.add_argument("--cmvn", choices=["none", "mean", "mv"], default="mv")
    ap.add_argument("--log-floor", type=float, default=1e-10)
    return ap.parse_args()


def body_of(data, chunk):
    at = 12
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if cid == chunk:
            return data[at + 8:at + 8 + size]
        at += 8 + size + (size & 1)
    return b""


def read_wav(path):
    """(samples as float64, rate): 16-bit PCM through `wave`, 32-bit float by hand."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a RIFF/WAVE file")
    fmt = body_of(data, b"fmt ")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real tag
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels != 1:
        sys.exit(f"{path}: {channels} channels")
    if tag == 3 and bits == 32:
        return np.frombuffer(body_of(data, b"data"), dtype="<f4").astype(np.float64), rate
    if tag != 1 or bits != 16:
        sys.exit(f"{path}: format tag {tag}, {bits} bits: only 16-bit PCM and 32-bit float")
    with wave.open(path, "rb") as w:
        raw = w.readframes(w.getnframes())
        return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0, w.getframerate()


def mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def filterbank(n_filters, nfft, rate, low, high):
    edges = np.linspace(mel(low), mel(high), n_filters + 2)
    m = mel(np.arange(nfft // 2 + 1) * rate / nfft)[None, :]
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (m - left) / (centre - left)
    falling = (right - m) / (right - centre)
    fb = np.where((m > left) & (m <= centre), rising, 0.0)
    fb = np.where((m > centre) & (m < right), falling, fb)
    return fb


def dct_ortho(n, rows):
    i = np.asarray(rows, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    scale = np.where(i == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return scale * np.cos(np.pi * i * (j + 0.5) / n)


def delta(x, n_win):
    if len(x) == 0:
        return x.copy()
    padded = np.pad(x, ((n_win, n_win), (0, 0)), mode="edge")
    t = len(x)
    num = sum(n * (padded[n_win + n:n_win + n + t] - padded[n_win - n:n_win - n + t]) for n in range(1, n_win + 1))
    return num / (2.0 * sum(n * n for n in range(1, n_win + 1)))


def main():
    a = parse_args()
    x, rate = read_wav(a.wav)
    win = int(round(rate * a.window_ms / 1000.0))
    shift = int(round(rate * a.shift_ms / 1000.0))
    nfft = 1 << (win - 1).bit_length()
    high = rate / 2.0 if a.high_hz is None else a.high_hz
    y = np.concatenate([x[:1], x[1:] - a.pre_emphasis * x[:-1]])
    t = 1 + (len(x) - win) // shift if len(x) >= win else 0
    idx = np.arange(t)[:, None] * shift + np.arange(win)[None, :]
    raw, emph = x[idx], y[idx]
    energy = np.log(np.maximum((raw ** 2).sum(axis=1), a.log_floor))
    spec = np.abs(np.fft.rfft(emph * np.hamming(win)[None, :], n=nfft, axis=1)) ** 2
    fb = filterbank(a.n_filters, nfft, rate, a.low_hz, high)
    log_mel = np.log(np.maximum(spec @ fb.T, a.log_floor))
    first = 0 if a.include_c0 else 1
    ceps = log_mel @ dct_ortho(a.n_filters, range(first, first + a.n_ceps)).T
    static = ceps if a.no_energy else np.hstack([ceps, energy[:, None]])
    parts = [static]
    for _ in range(a.deltas):
        parts.append(delta(parts[-1], a.delta_window))
    feats = np.hstack(parts)
    if not a.no_vad and t > 0:
        keep = energy >= energy.max() - a.threshold_db * np.log(10.0) / 10.0
        if a.smooth > 0:
            votes = np.array([keep[max(0, i - a.smooth):i + a.smooth + 1].mean() for i in range(t)])
            keep = votes >= 0.5
        keep[int(np.argmax(energy))] = True
        feats = feats[keep]
    if a.cmvn != "none" and len(feats) > 0:
        feats = feats - feats.mean(axis=0)
        if a.cmvn == "mv":
            std = feats.std(axis=0)
            feats = feats / np.where(std < 1e-8, 1.0, std)
    np.save(a.out, feats)
    print(f"frames {t} kept {len(feats)} dim {feats.shape[1]}")


if __name__ == "__main__":
    main()
