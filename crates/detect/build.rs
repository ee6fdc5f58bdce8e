//! Embeds two data files into the library at build time, so a built binary needs no system files
//! and every machine builds the same bytes. Both are vendored in `data/` with their licences:
//!
//! - OpenCV's `haarcascade_frontalface_default.xml` (Debian's opencv-data 4.6.0; Intel License
//!   Agreement, `data/OPENCV-CASCADE-LICENSE.txt`), or `$FACEMARK_CASCADE` when set.
//! - The SeetaFace frontal model `seeta_fd_frontal_v1.0.bin` as rustface 0.1.7 ships it (BSD
//!   2-Clause, `data/SEETA-LICENSE.txt`), or `$FACEMARK_SEETA_MODEL` when set.
//!
//! Writes `$OUT_DIR/embedded.rs` with two `Option<&[u8]>` constants (`None` only when the
//! vendored file was removed and no override is set).

use std::env;
use std::path::{Path, PathBuf};

const CASCADE_FILE: &str = "haarcascade_frontalface_default.xml";
const SEETA_FILE: &str = "seeta_fd_frontal_v1.0.bin";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FACEMARK_CASCADE");
    println!("cargo:rerun-if-env-changed=FACEMARK_SEETA_MODEL");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let data =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("data");

    let cascade = find("FACEMARK_CASCADE", &data.join(CASCADE_FILE));
    let seeta = find("FACEMARK_SEETA_MODEL", &data.join(SEETA_FILE));
    let mut code = String::new();
    code.push_str(&constant("EMBEDDED_FRONTAL", cascade.as_deref()));
    code.push_str(&constant("EMBEDDED_SEETA", seeta.as_deref()));
    std::fs::write(out.join("embedded.rs"), code).expect("write embedded.rs");
}

fn constant(name: &str, path: Option<&Path>) -> String {
    match path {
        Some(p) => {
            println!("cargo:rerun-if-changed={}", p.display());
            format!(
                "/// Embedded from `{0}` at build time.\npub(crate) const {name}: Option<&[u8]> = Some(include_bytes!({0:?}));\n",
                p.display()
            )
        }
        None => format!("pub(crate) const {name}: Option<&[u8]> = None;\n"),
    }
}

/// The file named by `$var` when set (and a file), else the vendored one.
fn find(var: &str, vendored: &Path) -> Option<PathBuf> {
    if let Some(p) = env::var_os(var) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
        println!(
            "cargo:warning={var}={} is not a file; embedding the vendored {}",
            p.display(),
            vendored.display()
        );
    }
    println!("cargo:rerun-if-changed={}", vendored.display());
    if vendored.is_file() {
        return Some(vendored.to_path_buf());
    }
    println!(
        "cargo:warning={} is missing (restore it from git, or set {var}=FILE)",
        vendored.display()
    );
    None
}
