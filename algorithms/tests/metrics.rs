//! EER, minimum DCF, DET points and DET plots, each against an
//! independent computation: brute-force threshold sweeps that count errors
//! score by score, the Bayes-error characterisation of the ROCCH-EER, and
//! known values.

use ndarray::array;
use proptest::prelude::*;
use shardkit_algorithms::metrics::{
    eer, min_dcf, normal_cdf, probit, split_scores, DcfParams, DetCurve, DetPlot, MetricsError,
    ScoreSet,
};

/// Error rates of the rule "accept when score > threshold", counted
/// directly.
fn rates(tar: &[f64], non: &[f64], threshold: f64) -> (f64, f64) {
    let miss = tar.iter().filter(|&&s| s <= threshold).count() as f64 / tar.len() as f64;
    let fa = non.iter().filter(|&&s| s > threshold).count() as f64 / non.len() as f64;
    (miss, fa)
}

/// Every threshold that can change a decision: each score, midpoints, and
/// both infinities.
fn all_thresholds(tar: &[f64], non: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = tar.iter().chain(non).copied().collect();
    v.sort_by(f64::total_cmp);
    let mut t = vec![f64::NEG_INFINITY, f64::INFINITY];
    for w in v.windows(2) {
        t.push(0.5 * (w[0] + w[1]));
    }
    t.extend(v);
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

fn brute_min_dcf(tar: &[f64], non: &[f64], params: &DcfParams) -> f64 {
    all_thresholds(tar, non)
        .into_iter()
        .map(|t| {
            let (m, f) = rates(tar, non, t);
            params.normalized_cost(m, f)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The ROCCH-EER as the largest Bayes error rate over priors:
/// `max_π min_θ π p_miss(θ) + (1 − π) p_fa(θ)`. The inner minimum is a
/// concave piecewise-linear function of π, so its maximum is at 0, 1 or
/// where two operating points cost the same.
fn brute_eer(tar: &[f64], non: &[f64]) -> f64 {
    let mut pts: Vec<(f64, f64)> = all_thresholds(tar, non)
        .into_iter()
        .map(|t| rates(tar, non, t))
        .collect();
    pts.dedup();
    let bayes = |pi: f64| {
        pts.iter()
            .map(|&(m, f)| pi * m + (1.0 - pi) * f)
            .fold(f64::INFINITY, f64::min)
    };
    let mut best = bayes(0.0).max(bayes(1.0));
    for a in &pts {
        for b in &pts {
            // π m_a + (1 − π) f_a = π m_b + (1 − π) f_b
            let den = (a.0 - a.1) - (b.0 - b.1);
            if den != 0.0 {
                let pi = (b.1 - a.1) / den;
                if (0.0..=1.0).contains(&pi) {
                    best = best.max(bayes(pi));
                }
            }
        }
    }
    best
}

/// splitmix64 and Box–Muller: a seeded normal generator for the tests.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[test]
fn separated_scores_have_zero_eer_and_zero_min_dcf() {
    let tar = [1.0, 2.0, 3.0];
    let non = [-1.0, 0.0, 0.5];
    let e = eer(&tar, &non).unwrap();
    assert_eq!(e.eer, 0.0);
    assert!(e.threshold >= 0.5 && e.threshold < 1.0);
    let d = min_dcf(&tar, &non, &DcfParams::default()).unwrap();
    assert_eq!(d.min_dcf, 0.0);
    assert_eq!((d.p_miss, d.p_fa), (0.0, 0.0));
    assert_eq!(d.threshold, 0.5);
}

#[test]
fn reversed_scores_have_eer_one_half_at_worst() {
    // Every target below every non-target: the ROCCH is the chance line.
    let e = eer(&[0.0, 1.0], &[2.0, 3.0, 4.0]).unwrap();
    assert!((e.eer - 0.5).abs() < 1e-15);
}

#[test]
fn all_scores_tied() {
    let tar = vec![0.7; 50];
    let non = vec![0.7; 300];
    let curve = DetCurve::new(&tar, &non).unwrap();
    // One distinct value: accept all, or reject all.
    let pts = curve.points();
    assert_eq!(pts.len(), 2);
    assert_eq!((pts[0].p_miss, pts[0].p_fa), (0.0, 1.0));
    assert_eq!((pts[1].p_miss, pts[1].p_fa), (1.0, 0.0));
    assert_eq!(curve.eer().eer, 0.5);
    let d = curve.min_dcf(&DcfParams::with_prior(0.3)).unwrap();
    assert_eq!(d.min_dcf, 1.0);
}

#[test]
fn many_ties_match_brute_force() {
    // Scores on a coarse grid: most thresholds split nothing, every
    // operating point groups many equal scores.
    let mut g = Normal(7);
    let tar: Vec<f64> = (0..400).map(|_| (g.sample() + 1.0).round()).collect();
    let non: Vec<f64> = (0..900).map(|_| g.sample().round()).collect();
    let curve = DetCurve::new(&tar, &non).unwrap();
    assert!((curve.eer().eer - brute_eer(&tar, &non)).abs() < 1e-12);
    for p in [0.01, 0.1, 0.5, 0.9] {
        let params = DcfParams::with_prior(p);
        let d = curve.min_dcf(&params).unwrap();
        assert!((d.min_dcf - brute_min_dcf(&tar, &non, &params)).abs() < 1e-12);
        // The reported threshold gives the reported rates and cost.
        let (m, f) = rates(&tar, &non, d.threshold);
        assert_eq!((m, f), (d.p_miss, d.p_fa));
        assert!((params.normalized_cost(m, f) - d.min_dcf).abs() < 1e-12);
    }
}

#[test]
fn gaussian_scores_give_the_theoretical_eer() {
    // Targets N(d', 1), non-targets N(0, 1): EER = Φ(−d'/2).
    let mut g = Normal(2024);
    let d_prime = 2.0;
    let tar: Vec<f64> = (0..20_000).map(|_| g.sample() + d_prime).collect();
    let non: Vec<f64> = (0..20_000).map(|_| g.sample()).collect();
    let e = eer(&tar, &non).unwrap();
    let expected = normal_cdf(-d_prime / 2.0);
    // The sampling standard error is about 0.002.
    assert!(
        (e.eer - expected).abs() < 0.01,
        "EER {} vs {expected}",
        e.eer
    );
    // The threshold near the EER sits near d'/2.
    assert!((e.threshold - 1.0).abs() < 0.1);
}

#[test]
fn eer_lies_within_the_staircase_bounds() {
    let mut g = Normal(3);
    let tar: Vec<f64> = (0..37).map(|_| g.sample() + 0.8).collect();
    let non: Vec<f64> = (0..53).map(|_| g.sample()).collect();
    let curve = DetCurve::new(&tar, &non).unwrap();
    let e = curve.eer();
    let pts = curve.points();
    let upper = pts
        .iter()
        .map(|p| p.p_miss.max(p.p_fa))
        .fold(f64::INFINITY, f64::min);
    // The hull lies below the staircase, so it crosses the diagonal no
    // later than the best staircase point.
    assert!(e.eer <= upper, "{} > {upper}", e.eer);
    assert!(e.eer >= brute_eer(&tar, &non) - 1e-12);
    let (m, f) = rates(&tar, &non, e.threshold);
    assert_eq!(m.max(f), upper);
}

#[test]
fn det_points_are_the_counted_rates() {
    let tar = [0.1, 0.5, 0.5, 0.9, -0.0];
    let non = [0.0, 0.5, 0.2, 0.3];
    let curve = DetCurve::new(&tar, &non).unwrap();
    let pts = curve.points();
    // Distinct values: 0 (both zeros), 0.1, 0.2, 0.3, 0.5, 0.9; plus -inf.
    assert_eq!(pts.len(), 7);
    assert_eq!(pts[0].threshold, f64::NEG_INFINITY);
    for p in &pts {
        assert_eq!(rates(&tar, &non, p.threshold), (p.p_miss, p.p_fa));
    }
    for w in pts.windows(2) {
        assert!(w[0].threshold < w[1].threshold);
        assert!(w[0].p_miss <= w[1].p_miss && w[0].p_fa >= w[1].p_fa);
    }
    let probits = curve.probit_points();
    assert_eq!(probits[0], (f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(probits[3], (probit(pts[3].p_fa), probit(pts[3].p_miss)));
    // The hull's vertices are operating points, and convex.
    let hull = curve.rocch();
    assert_eq!(hull.first(), pts.first());
    assert_eq!(hull.last(), pts.last());
    for w in hull.windows(3) {
        let (a, b, c) = (w[0], w[1], w[2]);
        let cross =
            (b.p_fa - a.p_fa) * (c.p_miss - a.p_miss) - (b.p_miss - a.p_miss) * (c.p_fa - a.p_fa);
        assert!(cross < 0.0);
    }
}

#[test]
fn probit_matches_known_quantiles() {
    assert!((probit(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
    assert!((probit(0.001) + 3.090_232_306_167_813_5).abs() < 1e-12);
    assert_eq!(probit(0.5), 0.0);
    assert_eq!(probit(0.0), f64::NEG_INFINITY);
    assert!(probit(1.5).is_nan());
    // Python's statistics.NormalDist().inv_cdf (Wichura's AS241).
    for (p, q) in [
        (1e-6, -4.753_424_308_822_899),
        (0.01, -2.326_347_874_040_841),
        (0.2, -0.841_621_233_572_914_4),
        (0.77, 0.738_846_849_185_213_7),
    ] {
        assert!(
            (probit(p) - q).abs() < 1e-12 * q.abs(),
            "{p}: {}",
            probit(p)
        );
        let back = normal_cdf(q);
        assert!((back - p).abs() < 1e-10 * p, "{q}: {back}");
    }
}

#[test]
fn dcf_at_a_fixed_threshold() {
    let tar = [1.0, 2.0, 3.0, 0.0];
    let non = [-1.0, 0.5, 1.5];
    let curve = DetCurve::new(&tar, &non).unwrap();
    let params = DcfParams::with_prior(0.5);
    for t in [-5.0, 0.0, 0.7, 1.0, 1.2, 10.0, f64::INFINITY] {
        let d = curve.dcf_at(&params, t).unwrap();
        assert_eq!((d.p_miss, d.p_fa), rates(&tar, &non, t), "threshold {t}");
    }
    let m = curve.min_dcf(&params).unwrap();
    assert!(curve.dcf_at(&params, 0.9).unwrap().min_dcf >= m.min_dcf);
    assert!(matches!(
        curve.dcf_at(&params, f64::NAN),
        Err(MetricsError::CostParam {
            name: "threshold",
            ..
        })
    ));
}

#[test]
fn score_matrix_splits_by_labels() {
    let scores = array![[0.9, 0.1, 0.2], [0.3, 0.8, 0.7]];
    let (t, n) = split_scores(scores.view(), &[4, 7], &[4, 7, 7]).unwrap();
    assert_eq!(t, vec![0.9, 0.8, 0.7]);
    assert_eq!(n, vec![0.1, 0.2, 0.3]);
    let err = split_scores(scores.view(), &[4], &[4, 7, 7]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the score matrix is 2 × 3 but there are 1 enrolment and 3 test labels"
    );
    let curve = DetCurve::from_score_matrix(scores.view(), &[4, 7], &[4, 7, 7]).unwrap();
    assert_eq!(curve.eer().eer, 0.0);
}

#[test]
fn trial_lists_split_by_their_key() {
    let scores = [0.9, 0.1, 0.8, 0.4];
    let key = [true, false, true, false];
    let curve = DetCurve::from_trials(&scores, &key).unwrap();
    assert_eq!((curve.n_targets(), curve.n_nontargets()), (2, 2));
    assert_eq!(curve, DetCurve::new(&[0.9, 0.8], &[0.1, 0.4]).unwrap());
    let e = DetCurve::from_trials(&scores, &key[..3]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "4 scores but 3 target flags: give one flag per trial"
    );
}

#[test]
fn errors_name_the_problem() {
    let e = eer(&[], &[1.0]).unwrap_err();
    assert!(matches!(e, MetricsError::NoScores(ScoreSet::Targets)));
    assert_eq!(
        e.to_string(),
        "no target scores: error rates need at least one target and one non-target trial"
    );
    let e = eer(&[1.0], &[]).unwrap_err();
    assert!(matches!(e, MetricsError::NoScores(ScoreSet::NonTargets)));
    let e = eer(&[1.0], &[0.0, f64::NAN]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "non-target score 1 (counting from 0) is NaN: scores must be finite numbers"
    );
    let e = eer(&[f64::INFINITY], &[0.0]).unwrap_err();
    assert!(e.to_string().starts_with("target score 0"));
    for (p, name) in [
        (DcfParams::with_prior(0.0), "p_target"),
        (DcfParams::with_prior(1.0), "p_target"),
        (DcfParams::with_prior(f64::NAN), "p_target"),
        (
            DcfParams {
                c_fa: -1.0,
                ..DcfParams::default()
            },
            "c_fa",
        ),
        (
            DcfParams {
                c_miss: 0.0,
                ..DcfParams::default()
            },
            "c_miss",
        ),
    ] {
        let e = min_dcf(&[1.0], &[0.0], &p).unwrap_err();
        assert!(matches!(e, MetricsError::CostParam { name: n, .. } if n == name));
        assert!(e.to_string().contains(&format!("`{name}`")));
    }
}

#[test]
fn effective_prior_gives_the_same_min_dcf() {
    let mut g = Normal(11);
    let tar: Vec<f64> = (0..300).map(|_| g.sample() + 1.5).collect();
    let non: Vec<f64> = (0..700).map(|_| g.sample()).collect();
    let params = DcfParams {
        p_target: 0.05,
        c_miss: 10.0,
        c_fa: 1.0,
    };
    let same = DcfParams::with_prior(params.effective_prior());
    let a = min_dcf(&tar, &non, &params).unwrap();
    let b = min_dcf(&tar, &non, &same).unwrap();
    assert!((a.min_dcf - b.min_dcf).abs() < 1e-12);
    assert_eq!(a.threshold, b.threshold);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random scores from a handful of values (many ties), or continuous.
    #[test]
    fn eer_and_min_dcf_match_a_brute_force_sweep(
        tar in prop::collection::vec(prop_oneof![(-3i32..4).prop_map(f64::from), -3.0f64..4.0], 1..25),
        non in prop::collection::vec(prop_oneof![(-4i32..3).prop_map(f64::from), -4.0f64..3.0], 1..25),
        prior in 0.001f64..0.999,
        c_miss in 0.1f64..10.0,
    ) {
        let curve = DetCurve::new(&tar, &non).unwrap();
        let e = curve.eer();
        prop_assert!((e.eer - brute_eer(&tar, &non)).abs() < 1e-12, "eer {} vs {}", e.eer, brute_eer(&tar, &non));
        prop_assert!((0.0..=0.5).contains(&e.eer));
        let plain = curve.plain_eer();
        prop_assert!((plain - brute_plain_eer(&tar, &non)).abs() < 1e-12, "plain eer {} vs {}", plain, brute_plain_eer(&tar, &non));
        prop_assert!(plain >= e.eer - 1e-12, "plain {} below ROCCH {}", plain, e.eer);
        let params = DcfParams { p_target: prior, c_miss, c_fa: 1.0 };
        let d = curve.min_dcf(&params).unwrap();
        let brute = brute_min_dcf(&tar, &non, &params);
        prop_assert!((d.min_dcf - brute).abs() <= 1e-12 * brute.max(1.0));
        prop_assert!(d.min_dcf <= 1.0 + 1e-12);
        prop_assert_eq!(rates(&tar, &non, d.threshold), (d.p_miss, d.p_fa));
    }
}

/// The plain EER by counting: the rates at every distinct threshold (and
/// below all scores), in increasing order, and where the straight line
/// between two neighbours crosses p_miss = p_fa.
fn brute_plain_eer(tar: &[f64], non: &[f64]) -> f64 {
    let mut thresholds: Vec<f64> = tar.iter().chain(non).copied().collect();
    thresholds.push(f64::NEG_INFINITY);
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let points: Vec<(f64, f64)> = thresholds.iter().map(|&t| rates(tar, non, t)).collect();
    for w in points.windows(2) {
        let ((ma, fa), (mb, fb)) = (w[0], w[1]);
        let (da, db) = (fa - ma, fb - mb);
        if da >= 0.0 && db <= 0.0 {
            return if da == db {
                fa
            } else {
                fa + da / (da - db) * (fb - fa)
            };
        }
    }
    0.0
}

fn demo_curves() -> (DetCurve, DetCurve) {
    let mut g = Normal(5);
    let a_tar: Vec<f64> = (0..500).map(|_| g.sample() + 2.5).collect();
    let a_non: Vec<f64> = (0..5000).map(|_| g.sample()).collect();
    let b_tar: Vec<f64> = (0..500).map(|_| 1.3 * g.sample() + 1.5).collect();
    let b_non: Vec<f64> = (0..5000).map(|_| g.sample()).collect();
    (
        DetCurve::new(&a_tar, &a_non).unwrap(),
        DetCurve::new(&b_tar, &b_non).unwrap(),
    )
}

#[test]
fn errors_are_send_sync() {
    fn assert_traits<T: Send + Sync + 'static>() {}
    assert_traits::<MetricsError>();
    assert_traits::<DetCurve>();
    assert_traits::<DetPlot>();
}

#[test]
fn det_plot_svg_is_well_formed_with_curves_and_legend() {
    let (a, b) = demo_curves();
    let plot = DetPlot::new("Two systems")
        .system("PLDA", &a)
        .system("cosine & LN", &b);
    let svg = plot.to_svg().unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("640"));
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    for want in ["Two systems", "Miss rate (%)", "False alarm rate (%)"] {
        assert!(
            texts.iter().any(|t| t == want),
            "no text {want:?} in {texts:?}"
        );
    }
    let ea = 100.0 * a.eer().eer;
    let eb = 100.0 * b.eer().eer;
    assert!(texts.contains(&format!("PLDA (EER {ea:.2} %)")));
    assert!(texts.contains(&format!("cosine & LN (EER {eb:.2} %)")));
    // The usual ticks, in percent.
    for tick in ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "40"] {
        assert!(texts.iter().any(|t| t == tick), "no tick {tick}");
    }
    // Each curve is a polyline in its colour; the EERs are marked.
    let polylines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .collect();
    for colour in ["#1F77B4", "#FF7F0E"] {
        assert!(
            polylines
                .iter()
                .any(|n| n.attribute("stroke") == Some(colour)
                    && n.attribute("points")
                        .is_some_and(|p| p.split(' ').count() > 20)),
            "no curve in {colour}"
        );
    }
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert!(circles >= 2);
}

#[test]
fn det_plot_png_decodes_to_the_size_asked() {
    let (a, b) = demo_curves();
    let plot = DetPlot::new("PNG")
        .system("a", &a)
        .system("b", &b)
        .size(500, 400);
    let bytes = plot.to_png().unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (500, 400));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = &buf[..info.buffer_size()];
    // The first system's blue and the second's orange are drawn, and text
    // (dark pixels) is there.
    let has = |rgb: [u8; 3]| pixels.chunks(3).any(|p| p == rgb);
    assert!(has([31, 119, 180]) && has([255, 127, 14]));
    let dark = pixels
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 60))
        .count();
    assert!(dark > 500, "{dark} dark pixels");
}

#[test]
fn det_plot_files_are_written_and_errors_are_clear() {
    let (a, _) = demo_curves();
    let dir = tempfile::tempdir().unwrap();
    let plot = DetPlot::new("files").system("a", &a);
    plot.write_svg(dir.path().join("det.svg")).unwrap();
    plot.write_png(dir.path().join("det.png")).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("det.svg")).unwrap();
    assert_eq!(svg, plot.to_svg().unwrap());
    assert_eq!(
        std::fs::read(dir.path().join("det.png")).unwrap(),
        plot.to_png().unwrap()
    );
    // Only the two files: nothing temporary left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    let missing = dir.path().join("no-such-dir").join("det.svg");
    let e = plot.write_svg(&missing).unwrap_err();
    assert!(matches!(e, MetricsError::Io { .. }));
    assert!(e.to_string().contains("no-such-dir"));

    let e = DetPlot::new("empty").to_svg().unwrap_err();
    assert!(e.to_string().contains("no system to draw"));
    let e = plot.clone().limits(0.5, 0.1).to_png().unwrap_err();
    assert!(e.to_string().contains("0 < low < high < 1"));
    for (w, h) in [(199, 600), (600, 10_001)] {
        let e = plot.clone().size(w, h).to_svg().unwrap_err();
        assert!(
            e.to_string().contains("between 200 and 10000 pixels"),
            "{e}"
        );
    }
    assert!(plot.clone().size(200, 10_000).to_svg().is_ok());
    // Curves entirely outside the limits still get a legend entry.
    let svg = plot.limits(0.3, 0.4).to_svg().unwrap();
    assert!(svg.contains("a (EER"));
}

#[test]
fn det_plot_marks_each_min_dcf_point_in_the_systems_colour() {
    let (a, b) = demo_curves();
    let params = DcfParams::with_prior(0.01);
    let plot = DetPlot::new("minDCF")
        .system("a", &a)
        .system("b", &b)
        .min_dcf(params);
    let svg = plot.to_svg().unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    for (name, curve) in [("a", &a), ("b", &b)] {
        let eer = 100.0 * curve.eer().eer;
        let dcf = curve.min_dcf(&params).unwrap().min_dcf;
        let want = format!("{name} (EER {eer:.2} %, minDCF {dcf:.3})");
        assert!(texts.contains(&want), "no legend {want:?} in {texts:?}");
    }
    // One hollow square per system, in its colour (the legend's box is
    // black and the background white).
    for colour in ["#1F77B4", "#FF7F0E"] {
        let squares = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some(colour))
            .count();
        assert_eq!(squares, 1, "squares in {colour}");
    }
    // Without min_dcf, no square and the legend as before.
    let plain = DetPlot::new("plain").system("a", &a).to_svg().unwrap();
    assert!(!plain.contains("minDCF"));
    let plain = roxmltree::Document::parse(&plain).unwrap();
    assert!(!plain
        .descendants()
        .any(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some("#1F77B4")));
    // Bad cost parameters are refused when drawn.
    let bad = DcfParams::with_prior(1.5);
    let e = DetPlot::new("bad")
        .system("a", &a)
        .min_dcf(bad)
        .to_svg()
        .unwrap_err();
    assert!(matches!(e, MetricsError::CostParam { .. }), "{e}");
}
