//! DET plots as SVG and PNG, drawn by plotters.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::curve::{normal_cdf, probit, DcfParams, DetCurve};
use super::errors::MetricsError;

/// DejaVu Sans, cut down to the characters of plot labels (see
/// `algorithms/assets/README.md`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// The ticks of DET axes, as error rates in percent.
const TICKS_PERCENT: [f64; 9] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0];

/// Line colours, one per system, cycling (matplotlib's "tab10").
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Registers the bundled font as plotters' `sans-serif`, once.
fn register_font() -> Result<(), MetricsError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(MetricsError::Plot(
            "the bundled font could not be loaded".to_owned(),
        ))
    }
}

/// A DET plot (Martin et al., 1997): miss rate against false-alarm rate,
/// both on probit (normal deviate) axes, so that normally distributed
/// scores give straight lines. One curve per system, with a legend giving
/// each system's EER; each EER is marked by a dot on the diagonal. With
/// [`min_dcf`](DetPlot::min_dcf), each curve's minimum-DCF operating point
/// is marked too (a hollow square) and the legend gives its minDCF.
///
/// Axes are ticked at 0.1, 0.2, 0.5, 1, 2, 5, 10, 20 and 40 % (those
/// inside the [limits](DetPlot::limits)); curve parts outside the limits
/// are clipped. Text is set in the bundled DejaVu Sans, so no system font
/// is needed; SVG files name the font `sans-serif`.
///
/// ```
/// use shardkit_algorithms::metrics::{DcfParams, DetCurve, DetPlot};
///
/// # fn main() -> Result<(), shardkit_algorithms::metrics::MetricsError> {
/// let targets: Vec<f64> = (0..200).map(|i| 2.0 + (i as f64 * 0.37).sin()).collect();
/// let nontargets: Vec<f64> = (0..2000).map(|i| (i as f64 * 0.11).cos()).collect();
/// let curve = DetCurve::new(&targets, &nontargets)?;
/// let plot = DetPlot::new("Speaker verification")
///     .system("cosine", &curve)
///     .min_dcf(DcfParams::with_prior(0.01));
///
/// let dir = tempfile::tempdir().unwrap();
/// plot.write_svg(dir.path().join("det.svg"))?;
/// plot.write_png(dir.path().join("det.png"))?;
/// let svg = plot.to_svg()?;
/// assert!(svg.contains("cosine") && svg.contains("minDCF"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DetPlot {
    title: String,
    systems: Vec<(String, DetCurve)>,
    size: (u32, u32),
    limits: (f64, f64),
    dcf: Option<DcfParams>,
}

impl DetPlot {
    /// An empty plot titled `title`, 640 × 640 pixels, axes from 0.05 % to
    /// 50 %.
    pub fn new(title: impl Into<String>) -> Self {
        DetPlot {
            title: title.into(),
            systems: Vec::new(),
            size: (640, 640),
            limits: (0.0005, 0.5),
            dcf: None,
        }
    }

    /// Marks each system's minimum-DCF operating point under `params`
    /// ([`DetCurve::min_dcf`]) with a hollow square, and adds the minDCF to
    /// its legend entry. A point with a rate of 0 (the minimum reached by
    /// rejecting every trial, say) lies off the probit axes and is drawn at
    /// the axis edge. The parameters are checked when the plot is drawn.
    pub fn min_dcf(mut self, params: DcfParams) -> Self {
        self.dcf = Some(params);
        self
    }

    /// Adds a system's curve, labelled `name` in the legend.
    pub fn system(mut self, name: impl Into<String>, curve: &DetCurve) -> Self {
        self.systems.push((name.into(), curve.clone()));
        self
    }

    /// The image size in pixels (SVG user units), width × height.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// The range of both axes, as error rates (fractions, not percent):
    /// `0 < low < high < 1`. Checked when the plot is drawn.
    pub fn limits(mut self, low: f64, high: f64) -> Self {
        self.limits = (low, high);
        self
    }

    fn check(&self) -> Result<(), MetricsError> {
        if self.systems.is_empty() {
            return Err(MetricsError::Plot(
                "no system to draw: add one with `DetPlot::system`".to_owned(),
            ));
        }
        let (lo, hi) = self.limits;
        if !(lo > 0.0 && lo < hi && hi < 1.0) {
            return Err(MetricsError::Plot(format!(
                "axis limits {lo} to {hi}: they must be error rates with 0 < low < high < 1"
            )));
        }
        let (w, h) = self.size;
        if w < 200 || h < 200 || w > 10_000 || h > 10_000 {
            return Err(MetricsError::Plot(format!(
                "size {w} × {h}: width and height must be between 200 and 10000 pixels"
            )));
        }
        if let Some(params) = &self.dcf {
            params.validate()?;
        }
        register_font()
    }

    /// The plot as an SVG document.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Plot`]: no system, bad limits or size.
    pub fn to_svg(&self) -> Result<String, MetricsError> {
        self.check()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            self.draw(&root).map_err(MetricsError::Plot)?;
            root.present()
                .map_err(|e| MetricsError::Plot(e.to_string()))?;
        }
        Ok(svg)
    }

    /// The plot as 8-bit RGB pixels, row by row (`3 × width × height`
    /// bytes).
    ///
    /// # Errors
    ///
    /// As [`to_svg`](DetPlot::to_svg).
    pub fn to_rgb(&self) -> Result<Vec<u8>, MetricsError> {
        self.check()?;
        let (w, h) = self.size;
        let mut pixels = vec![255u8; 3 * w as usize * h as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, self.size).into_drawing_area();
            self.draw(&root).map_err(MetricsError::Plot)?;
            root.present()
                .map_err(|e| MetricsError::Plot(e.to_string()))?;
        }
        Ok(pixels)
    }

    /// The plot as a PNG file's bytes (8-bit RGB).
    ///
    /// # Errors
    ///
    /// As [`to_svg`](DetPlot::to_svg).
    pub fn to_png(&self) -> Result<Vec<u8>, MetricsError> {
        let pixels = self.to_rgb()?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.size.0, self.size.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let encode = |e: png::EncodingError| MetricsError::Plot(format!("PNG encoding: {e}"));
        let mut writer = encoder.write_header().map_err(encode)?;
        writer.write_image_data(&pixels).map_err(encode)?;
        writer.finish().map_err(encode)?;
        Ok(out)
    }

    /// Writes the SVG to `path` atomically ([`shardkit::write_atomic`]).
    ///
    /// # Errors
    ///
    /// As [`to_svg`](DetPlot::to_svg); [`MetricsError::Io`] if the file
    /// cannot be written (a file already there is then left as it was).
    pub fn write_svg(&self, path: impl AsRef<Path>) -> Result<(), MetricsError> {
        let svg = self.to_svg()?;
        write(path.as_ref(), svg.as_bytes())
    }

    /// Writes the PNG to `path` atomically ([`shardkit::write_atomic`]).
    ///
    /// # Errors
    ///
    /// As [`write_svg`](DetPlot::write_svg).
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<(), MetricsError> {
        let png = self.to_png()?;
        write(path.as_ref(), &png)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let (lo, hi) = (probit(self.limits.0), probit(self.limits.1));
        let ticks: Vec<f64> = TICKS_PERCENT
            .iter()
            .map(|t| t / 100.0)
            .filter(|&p| p >= self.limits.0 && p <= self.limits.1)
            .map(probit)
            .collect();
        let small = (self.size.1 / 40).max(10);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", small + 6))
            .margin(small)
            .x_label_area_size(3 * small)
            .y_label_area_size(3 * small + small / 2)
            .build_cartesian_2d(
                ProbitAxis::new(lo, hi, ticks.clone()),
                ProbitAxis::new(lo, hi, ticks.clone()),
            )
            .map_err(err)?;
        let percent = |v: &f64| {
            let p = (normal_cdf(*v) * 1000.0).round() / 10.0;
            format!("{p}")
        };
        chart
            .configure_mesh()
            .x_labels(ticks.len() + 1)
            .y_labels(ticks.len() + 1)
            .x_label_formatter(&percent)
            .y_label_formatter(&percent)
            .x_desc("False alarm rate (%)")
            .y_desc("Miss rate (%)")
            .label_style(("sans-serif", small))
            .axis_desc_style(("sans-serif", small + 2))
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(err)?;
        // The diagonal p_miss = p_fa, where the EERs lie.
        chart
            .draw_series(LineSeries::new(
                [(lo, lo), (hi, hi)],
                ShapeStyle::from(RGBColor(170, 170, 170)).stroke_width(1),
            ))
            .map_err(err)?;
        let far = 10.0; // beyond any axis: Φ(−10) ≈ 7.6e-24
        for (k, (name, curve)) in self.systems.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let style = ShapeStyle::from(colour).stroke_width(2);
            let points: Vec<(f64, f64)> = curve
                .probit_points()
                .into_iter()
                .map(|(x, y)| (x.clamp(-far, far), y.clamp(-far, far)))
                .collect();
            let pieces = clip_polyline(&points, (lo, hi));
            let eer = curve.eer().eer;
            let dcf = match &self.dcf {
                Some(params) => Some(curve.min_dcf(params).map_err(|e| e.to_string())?),
                None => None,
            };
            let label = match &dcf {
                Some(d) => format!("{name} (EER {:.2} %, minDCF {:.3})", 100.0 * eer, d.min_dcf),
                None => format!("{name} (EER {:.2} %)", 100.0 * eer),
            };
            // The first piece (possibly empty) carries the legend entry.
            let mut pieces = pieces.into_iter();
            chart
                .draw_series(LineSeries::new(pieces.next().unwrap_or_default(), style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
            for piece in pieces {
                chart
                    .draw_series(LineSeries::new(piece, style))
                    .map_err(err)?;
            }
            let e = probit(eer);
            if e >= lo && e <= hi {
                chart
                    .draw_series([Circle::new((e, e), 4, colour.filled())])
                    .map_err(err)?;
            }
            if let Some(d) = dcf {
                // probit(0) is -inf: a zero rate sits on the axis edge.
                let at = |p: f64| probit(p).clamp(lo, hi);
                let (x, y) = (at(d.p_fa), at(d.p_miss));
                chart
                    .draw_series([EmptyElement::at((x, y))
                        + Rectangle::new(
                            [(-6, -6), (6, 6)],
                            ShapeStyle::from(colour).stroke_width(2),
                        )])
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", small))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// An axis in probit units with fixed ticks (plotters' own `f64` axes
/// choose their ticks, and its key-point wrapper loses the label
/// formatter).
struct ProbitAxis {
    linear: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl ProbitAxis {
    fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        ProbitAxis {
            linear: (lo..hi).into(),
            ticks,
        }
    }
}

impl Ranged for ProbitAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), MetricsError> {
    shardkit::write_atomic(path, |w| w.write_all(bytes)).map_err(|error| MetricsError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Clips a polyline to the square `[lo, hi]²` (Liang–Barsky per segment),
/// returning the visible pieces.
fn clip_polyline(points: &[(f64, f64)], (lo, hi): (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [(-dx, x0 - lo), (dx, hi - x0), (-dy, y0 - lo), (dy, hi - y0)] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            if !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            continue;
        }
        let a = (x0 + t0 * dx, y0 + t0 * dy);
        let b = (x0 + t1 * dx, y0 + t1 * dy);
        if current.last() != Some(&a) {
            if !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            current.push(a);
        }
        current.push(b);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::clip_polyline;

    #[test]
    fn clipping_keeps_inside_and_cuts_at_the_border() {
        let pts = [(-5.0, 0.0), (0.0, 0.0), (0.0, 5.0), (0.5, 5.0), (0.5, 0.5)];
        let pieces = clip_polyline(&pts, (-1.0, 1.0));
        assert_eq!(
            pieces,
            vec![
                vec![(-1.0, 0.0), (0.0, 0.0), (0.0, 1.0)],
                vec![(0.5, 1.0), (0.5, 0.5)]
            ]
        );
    }
}
