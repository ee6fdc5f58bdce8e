//! Out-of-range numbers are refused by the CLI (one validation, `facemark_core::limits`),
//! never wrapped through a cast, run for ever or clamped silently.

use std::process::Command;

/// Runs `facemark args…`: (success, stderr).
fn run(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_facemark"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn out_of_range_values_are_refused_before_any_work() {
    let cases: &[(&[&str], &str)] = &[
        // wrapped through `as i32`: every window passed the minimum
        (
            &[
                "faces",
                "--detector",
                "haar",
                "--min-size",
                "3000000000",
                "x.png",
            ],
            "larger than any image",
        ),
        (
            &["faces", "--max-size", "4000000000", "x.png"],
            "larger than any image",
        ),
        // ran for ever
        (
            &["detect", "--refine", "1000000", "x.png"],
            "refinement passes",
        ),
        (
            &["eval", "--refine", "1000000", "--data", "x"],
            "refinement passes",
        ),
        (
            &["filter", "--refine", "1000000", "x.png"],
            "refinement passes",
        ),
        (&["kaggle", "--refine", "1000000"], "refinement passes"),
        // clamped by eval while train refused it
        (
            &["eval", "--val-fraction", "2", "--data", "x"],
            "validation fraction",
        ),
        (&["kaggle", "--val-fraction", "2"], "validation fraction"),
    ];
    for (args, want) in cases {
        let (ok, err) = run(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
