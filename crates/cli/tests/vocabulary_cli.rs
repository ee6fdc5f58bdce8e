//! One CLI vocabulary (issue 20, item 7): the unified spellings work, and the old ones still
//! do (hidden aliases), so no script breaks.

mod common;
use common::{bin, face_points, face_set, gradient_image, run, tiny_model};

#[test]
fn new_and_old_spellings_both_work() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let model = tiny_model(dir.path());
    let w = face_set(dir.path(), "w");
    let pts = dir.path().join("p.pts");
    facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    let m = model.to_str().unwrap();
    let i = img.to_str().unwrap();
    let d = w.to_str().unwrap();
    let p = pts.to_str().unwrap();
    let o = dir.path().join("o");
    let o = o.to_str().unwrap();
    let sheet = dir.path().join("s.png");
    let sheet = sheet.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        // faces: --min-face/--max-face (old --min-size/--max-size), -o
        vec![
            "faces",
            "--detector",
            "haar",
            "--min-face",
            "30",
            "--max-face",
            "90",
            i,
        ],
        vec![
            "faces",
            "--detector",
            "haar",
            "--min-size",
            "30",
            "--max-size",
            "90",
            i,
        ],
        vec!["faces", "--detector", "haar", "-o", sheet, i],
        // detect: --flip / --no-flip (last one wins), -o
        vec![
            "detect",
            "--box",
            "30,20,60,60",
            "--model",
            m,
            "--flip",
            "--no-flip",
            "-o",
            o,
            i,
        ],
        // filter: --flip / --no-flip
        vec!["filter", "-e", "blur", "--points", p, "--flip", i, sheet],
        vec!["filter", "-e", "blur", "--points", p, "--no-flip", i, sheet],
        // eval: --box-source (old --box)
        vec![
            "eval",
            "--quiet",
            "--model",
            m,
            "--data",
            d,
            "--box-source",
            "gt",
        ],
        vec!["eval", "--quiet", "--model", m, "--data", d, "--box", "gt"],
        // data show: -o/--out (old --output)
        vec!["data", "show", d, "--out", sheet, "-n", "2", "--tile", "32"],
        vec![
            "data", "show", d, "--output", sheet, "-n", "2", "--tile", "32",
        ],
        vec!["data", "show", d, "-o", sheet, "-n", "2", "--tile", "32"],
    ];
    for args in cases {
        let (code, _, err) = run(bin().args(&args));
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    // the old spellings are hidden from --help, the new ones shown
    let (_, help, _) = run(bin().args(["faces", "--help"]));
    assert!(
        help.contains("--min-face <PX>") && !help.contains("--min-size <PX>"),
        "{help}"
    );
    let (_, help, _) = run(bin().args(["eval", "--help"]));
    assert!(help.contains("--box-source"), "{help}");
    let (_, help, _) = run(bin().args(["detect", "--help"]));
    assert!(help.contains("--no-flip") && help.contains("lbp"), "{help}");
}
