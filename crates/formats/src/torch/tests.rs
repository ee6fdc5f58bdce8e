//! The reader on files torch 2.15 wrote (`bench/facenet/torch_fixtures.py` says what they
//! hold), and on damaged copies of them.

use super::*;

const ZIP: &[u8] = include_bytes!("../../tests/data/torch_zip.pt");
const LEGACY: &[u8] = include_bytes!("../../tests/data/torch_legacy.pt");

fn get<'a>(sd: &'a [(String, TorchTensor)], name: &str) -> &'a TorchTensor {
    &sd.iter().find(|(n, _)| n == name).expect(name).1
}

fn check_contents(sd: &[(String, TorchTensor)]) {
    let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "t", "row", "n", "h", "p"]);
    let a = get(sd, "a");
    assert_eq!((a.shape.as_slice(), a.dtype), (&[2, 3][..], Dtype::F32));
    assert_eq!(a.values, [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    // the transpose: a strided view of the same storage, read out row-major
    let t = get(sd, "t");
    assert_eq!(t.shape, [3, 2]);
    assert_eq!(t.values, [0.0, 0.75, 0.25, 1.0, 0.5, 1.25]);
    let row = get(sd, "row");
    assert_eq!(
        (row.shape.as_slice(), row.values.as_slice()),
        (&[3][..], &[0.75, 1.0, 1.25][..])
    );
    let n = get(sd, "n");
    assert_eq!((n.shape.len(), n.dtype, n.values.len()), (0, Dtype::I64, 0));
    let h = get(sd, "h");
    assert_eq!((h.dtype, h.values.len()), (Dtype::F16, 0));
    assert_eq!(get(sd, "p").values, [1.0, 1.0]);
}

#[test]
fn reads_zip_and_legacy_files_torch_wrote() {
    check_contents(&read_state_dict(ZIP).unwrap());
    check_contents(&read_state_dict(LEGACY).unwrap());
}

#[test]
fn not_torch_files_are_clear_errors() {
    let e = read_state_dict(b"hello").unwrap_err();
    assert!(e.to_string().contains("not a PyTorch file"), "{e}");
    let e = read_state_dict(&[]).unwrap_err();
    assert!(matches!(e, TorchError::NotTorch(_)), "{e}");
    // a pickle that is not a state dict: the integer 5
    let e = read_state_dict(&[0x80, 2, b'K', 5, b'.']).unwrap_err();
    assert!(e.to_string().contains("magic number"), "{e}");
}

/// Every truncation and many single-byte changes give a result, never a panic; truncations
/// are all errors.
#[test]
fn damaged_files_never_panic() {
    for file in [ZIP, LEGACY] {
        for n in 0..file.len() {
            assert!(read_state_dict(&file[..n]).is_err(), "truncated at {n}");
        }
        for i in 0..file.len() {
            for v in [0u8, 0xff, file[i] ^ 0x01] {
                let mut b = file.to_vec();
                b[i] = v;
                let _ = read_state_dict(&b);
            }
        }
    }
}

#[test]
fn a_missing_storage_is_named() {
    // drop the archive's storage entry `data/0` by renaming it
    let mut b = ZIP.to_vec();
    let needle = b"/data/0";
    let mut hits = 0;
    for i in 0..b.len() - needle.len() {
        if &b[i..i + needle.len()] == needle {
            b[i + needle.len() - 1] = b'x';
            hits += 1;
        }
    }
    assert!(hits >= 2, "local and central headers");
    let e = read_state_dict(&b).unwrap_err();
    assert!(
        e.to_string()
            .contains("storage data/0 is not in the archive"),
        "{e}"
    );
}

#[test]
fn unsupported_callables_are_refused() {
    // cos.system\n('echo',) R . — a classic pickle exploit: refused, never run
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"cos\nsystem\n(X\x04\x00\x00\x00echotR.");
    let e = pickle::load(&p).unwrap_err();
    assert!(
        e.to_string().contains("unsupported callable os.system"),
        "{e}"
    );
}
