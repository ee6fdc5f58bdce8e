//! Ranges of the numbers users give (command-line options, configs, library parameters),
//! checked in one place: the CLI parses its options with these functions (as clap value
//! parsers) and the library checks the same ranges, so a value is refused the same way
//! everywhere instead of wrapping through a cast, running for ever or being clamped silently.

/// Largest face or window side in pixels (`--min-size`, `--max-size`, `--min-face`): the
/// cascade engine's largest image side (its integral images use `i32` coordinates).
pub const MAX_FACE_SIZE: u32 = (i32::MAX / 2) as u32;

/// Most refinement passes (`--refine`): each pass costs a model run, and the points stop
/// moving after two or three.
pub const MAX_REFINE: usize = 10;

/// Validation fractions are in `[0, MAX_VAL_FRACTION)`: at least a tenth stays for training.
pub const MAX_VAL_FRACTION: f32 = 0.9;

/// Checks a face or window side in pixels: at most [`MAX_FACE_SIZE`].
pub fn check_face_size(what: &str, v: u32) -> Result<u32, String> {
    if v > MAX_FACE_SIZE {
        return Err(format!(
            "{what} {v} is larger than any image the detectors take ({MAX_FACE_SIZE} pixels)"
        ));
    }
    Ok(v)
}

/// Checks a number of refinement passes: at most [`MAX_REFINE`].
pub fn check_refine(v: usize) -> Result<usize, String> {
    if v > MAX_REFINE {
        return Err(format!(
            "{v} refinement passes is more than the limit {MAX_REFINE} (the points stop moving after 2 or 3)"
        ));
    }
    Ok(v)
}

/// Checks a validation fraction: in `[0, MAX_VAL_FRACTION)`.
pub fn check_val_fraction(v: f32) -> Result<f32, String> {
    if !(0.0..MAX_VAL_FRACTION).contains(&v) {
        return Err(format!(
            "validation fraction {v} must be in [0, {MAX_VAL_FRACTION})"
        ));
    }
    Ok(v)
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.trim().parse().map_err(|e| format!("`{s}`: {e}"))
}

/// [`check_face_size`] of a command-line value (a clap `value_parser`).
pub fn parse_face_size(s: &str) -> Result<u32, String> {
    check_face_size("size", parse(s)?)
}

/// [`check_refine`] of a command-line value (a clap `value_parser`).
pub fn parse_refine(s: &str) -> Result<usize, String> {
    check_refine(parse(s)?)
}

/// [`check_val_fraction`] of a command-line value (a clap `value_parser`).
pub fn parse_val_fraction(s: &str) -> Result<f32, String> {
    check_val_fraction(parse(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_refused_not_wrapped_or_clamped() {
        // 3e9 wrapped to a negative i32 through `as i32`, so every window passed
        assert!(parse_face_size("3000000000").is_err());
        assert!(parse_face_size("99999999999").is_err()); // not a u32
        assert!(parse_face_size("-1").is_err());
        assert_eq!(parse_face_size("40"), Ok(40));
        assert_eq!(
            parse_face_size(&MAX_FACE_SIZE.to_string()),
            Ok(MAX_FACE_SIZE)
        );
        // --refine 1000000 ran for ever
        assert!(parse_refine("1000000").is_err());
        assert_eq!(parse_refine("2"), Ok(2));
        assert_eq!(parse_refine("0"), Ok(0));
        // --val-fraction 2 was clamped by eval and refused by train
        for bad in ["2", "0.9", "-0.1", "NaN", "x"] {
            assert!(parse_val_fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_val_fraction("0.15"), Ok(0.15));
        assert_eq!(parse_val_fraction("0"), Ok(0.0));
    }
}
