//! The text files' common parts: reading lines with their numbers, writing
//! atomically, identifiers, and scores printed as SIDEKIT prints them.

use std::path::Path;

use super::errors::{Location, ProtocolError};

/// One non-blank line of a file: its number (from 1) and its fields.
pub(super) struct Line {
    /// Where it is.
    pub(super) at: Location,
    /// Its whitespace-separated fields.
    pub(super) fields: Vec<String>,
}

/// The non-blank lines of `path`, split on white space (spaces, tabs;
/// `\r\n` endings are accepted). Blank lines are skipped but counted.
pub(super) fn read_lines(path: &Path) -> Result<Vec<Line>, ProtocolError> {
    let bytes = std::fs::read(path).map_err(|error| ProtocolError::Io {
        path: path.to_path_buf(),
        op: "read",
        error,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ProtocolError::NotUtf8 {
            at: Location::Line {
                path: path.to_path_buf(),
                line,
            },
        }
    })?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            (!fields.is_empty()).then(|| Line {
                at: Location::Line {
                    path: path.to_path_buf(),
                    line: i + 1,
                },
                fields,
            })
        })
        .collect())
}

/// Writes `lines` to `path` atomically, each ended by a newline;
/// [`ProtocolError::EmptyWrite`] (naming `what`) when there is none, so
/// that every file written reads back.
pub(super) fn write_lines(
    path: &Path,
    what: &'static str,
    lines: impl IntoIterator<Item = String>,
) -> Result<(), ProtocolError> {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    if text.is_empty() {
        return Err(ProtocolError::EmptyWrite {
            path: path.to_path_buf(),
            what,
        });
    }
    write_text(path, &text)
}

/// Writes `text` to `path` atomically ([`shardkit::write_atomic`]).
fn write_text(path: &Path, text: &str) -> Result<(), ProtocolError> {
    shardkit::write_atomic(path, |w| w.write_all(text.as_bytes())).map_err(|e| ProtocolError::Io {
        error: crate::npz::strip_path(path, e),
        path: path.to_path_buf(),
        op: "write",
    })
}

/// An identifier is one field: not empty, no white space.
pub(super) fn check_id(id: &str, at: &Location) -> Result<(), ProtocolError> {
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(ProtocolError::BadId {
            at: at.clone(),
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// A score field: a finite number.
pub(super) fn parse_score(text: &str, at: &Location) -> Result<f64, ProtocolError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ProtocolError::BadScore {
            at: at.clone(),
            text: text.to_owned(),
        }),
    }
}

/// `x` as Python's `repr` (and NumPy's `str` of a `float64`) prints it,
/// which is what SIDEKIT's `'{}'.format(score)` writes: the shortest
/// digits that read back to the same `f64`, in positional notation with at
/// least one decimal (`3.0`, `0.0001`) when the decimal exponent is in
/// `-4..16`, otherwise in scientific notation with a signed exponent of at
/// least two digits (`1e-05`, `1.2345678901234568e+17`).
pub(super) fn python_float(x: f64) -> String {
    // Rust's `{:e}` gives the shortest digits that read back to `x`; when
    // two strings of that length do, it may pick the other one than Python
    // (which picks the one closer to `x`, ties to even). The correctly
    // rounded string of that length (`{:.*e}` rounds half to even) is
    // Python's whenever it reads back to `x`.
    let shortest = format!("{x:e}");
    let n = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let rounded = format!("{:.*e}", n.saturating_sub(1), x);
    let sci = if rounded
        .parse::<f64>()
        .is_ok_and(|y| y.to_bits() == x.to_bits())
    {
        rounded
    } else {
        shortest
    };
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        return format!("{x}");
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return format!("{x}");
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let n = digits.len();
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if n <= int_len {
                format!("{sign}{digits}{}.0", "0".repeat(int_len - n))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let mantissa = if n == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::python_float;

    #[test]
    fn floats_print_as_python_repr() {
        // Each pair: the value and what `repr` / `str(numpy.float64(x))`
        // prints (checked with Python 3 and NumPy 2.4).
        let cases = [
            (1.5, "1.5"),
            (3.0, "3.0"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (0.0001234, "0.0001234"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (2.5e-300, "2.5e-300"),
            (-1.25e20, "-1.25e+20"),
            (1e22, "1e+22"),
            (12345.678, "12345.678"),
            (-3.25, "-3.25"),
            (100.0, "100.0"),
            // Two 16-digit strings read back to these; Python prints the
            // closer one (ties to even), Rust's `{:e}` the other.
            (651847949857580.2, "651847949857580.2"),
            (212148567521711.62, "212148567521711.62"),
            (-1809664531019932.2, "-1809664531019932.2"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float(x), want, "{x:e}");
            assert_eq!(want.parse::<f64>().unwrap().to_bits(), x.to_bits());
        }
    }
}
