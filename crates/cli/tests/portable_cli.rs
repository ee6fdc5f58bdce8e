//! `FACEMARK_PORTABLE=1` forces the portable kernels (no AVX2 / AVX-512 / VNNI), so that CI
//! tests them on any CPU: `--precision auto` then picks f32, as on a CPU without VNNI.

mod common;
use common::{bin, face_set, run, tiny_model};

#[test]
fn the_portable_switch_reaches_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let w = face_set(dir.path(), "w");
    let (code, out, err) = run(bin()
        .env("FACEMARK_PORTABLE", "1")
        .args(["eval", "--quiet", "--precision", "auto", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&w));
    assert_eq!(code, Some(0), "{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(first.contains(", f32)"), "{first}");
    // int8 asked for explicitly still runs, on the portable kernels
    let (code, out, err) = run(bin()
        .env("FACEMARK_PORTABLE", "1")
        .args(["eval", "--quiet", "--precision", "int8", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&w));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.lines().next().unwrap_or_default().contains(", int8)"),
        "{out}"
    );
}
