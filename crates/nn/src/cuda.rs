//! The CUDA side of [`crate::device`]: row-major GEMMs through cuBLAS (cargo feature `cuda`).
//!
//! cudarc loads `libcuda.so` and `libcublas.so` when [`init`] runs (`dynamic-loading`), so the
//! feature builds without the CUDA toolkit or nvcc and a CUDA build still starts on a machine
//! without a GPU (it then reports the missing library instead of panicking).

use crate::ops::Mat;
use cudarc::cublas::sys::cublasOperation_t as Op;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaContext, CudaSlice, CudaStream};
use std::sync::{Arc, Mutex, OnceLock};

struct Gpu {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    /// Operand buffers, grown on demand and reused (allocation per product is slow).
    a: Option<CudaSlice<f32>>,
    b: Option<CudaSlice<f32>>,
    c: Option<CudaSlice<f32>>,
}

/// One GPU per process; cuBLAS handles are not for concurrent use, so products are serialised.
static GPU: OnceLock<Mutex<Gpu>> = OnceLock::new();

/// Open GPU `ordinal` (once per process) and return its name.
pub(crate) fn init(ordinal: usize) -> Result<String, String> {
    // SAFETY: only probes whether the shared libraries can be opened.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no CUDA driver library (libcuda.so) found: is the NVIDIA driver installed and on LD_LIBRARY_PATH?".into());
    }
    if !unsafe { cudarc::cublas::sys::is_culib_present() } {
        return Err("no cuBLAS library (libcublas.so) found: install the CUDA runtime libraries or add them to LD_LIBRARY_PATH".into());
    }
    if let Some(g) = GPU.get() {
        let g = g
            .lock()
            .map_err(|_| "the GPU state was poisoned by an earlier panic")?;
        if g.ordinal != ordinal {
            return Err(format!(
                "CUDA device {} is already in use by this process; one GPU per process",
                g.ordinal
            ));
        }
        let name = g.ctx.name().map_err(|e| format!("CUDA: {e:?}"))?;
        return Ok(format!("{name} (CUDA device {ordinal})"));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| format!("CUDA device {ordinal}: {e:?}"))?;
    let name = ctx
        .name()
        .map_err(|e| format!("CUDA device {ordinal}: {e:?}"))?;
    let stream = ctx.default_stream();
    let blas = CudaBlas::new(stream.clone()).map_err(|e| format!("cuBLAS: {e:?}"))?;
    let _ = GPU.set(Mutex::new(Gpu {
        ordinal,
        ctx,
        stream,
        blas,
        a: None,
        b: None,
        c: None,
    }));
    Ok(format!("{name} (CUDA device {ordinal})"))
}

/// Highest index a view touches, plus one.
fn extent(m: &Mat) -> usize {
    (m.rows - 1) * m.rs + (m.cols - 1) * m.cs + 1
}

/// cuBLAS operand for the column-major transpose of a row-major view `x` (`rows × cols`):
/// `(op, ld)` such that `op(stored) = xᵀ`. `None` for views that are neither row- nor
/// column-contiguous.
fn as_transposed(x: &Mat) -> Option<(Op, usize)> {
    if x.cs == 1 && x.rs >= x.cols.max(1) {
        Some((Op::CUBLAS_OP_N, x.rs)) // memory read column-major with ld = rs is xᵀ
    } else if x.rs == 1 && x.cs >= x.rows.max(1) {
        Some((Op::CUBLAS_OP_T, x.cs)) // memory read column-major with ld = cs is x
    } else {
        None
    }
}

/// `buf`, grown (to a power of two) when it holds fewer than `len` values.
fn ensure<'b>(
    stream: &Arc<CudaStream>,
    buf: &'b mut Option<CudaSlice<f32>>,
    len: usize,
) -> Result<&'b mut CudaSlice<f32>, String> {
    if !matches!(buf, Some(b) if b.len() >= len) {
        *buf = Some(
            stream
                .alloc_zeros::<f32>(len.next_power_of_two())
                .map_err(|e| format!("{e:?}"))?,
        );
    }
    Ok(buf.as_mut().expect("allocated above"))
}

/// Copy `host[..len]` to the start of `buf` (grown as needed).
fn upload<'b>(
    stream: &Arc<CudaStream>,
    buf: &'b mut Option<CudaSlice<f32>>,
    host: &[f32],
    len: usize,
) -> Result<&'b mut CudaSlice<f32>, String> {
    let dst = ensure(stream, buf, len)?;
    stream
        .memcpy_htod(&host[..len], dst)
        .map_err(|e| format!("{e:?}"))?;
    Ok(dst)
}

/// `c = a × b` (or `c += a × b`), all row-major as in [`crate::ops::matmul`], on the GPU.
///
/// Requires: the shapes checked by the caller (`a.cols == b.rows`, `c.len() ≥ m·n`, views in
/// bounds, m, n, k > 0). Errors (nothing written to `c` then): no GPU opened, a view layout
/// cuBLAS cannot take, or a CUDA failure.
pub(crate) fn matmul(a: Mat, b: Mat, c: &mut [f32], accumulate: bool) -> Result<(), String> {
    let gpu = GPU.get().ok_or("no GPU opened")?;
    let mut g = gpu
        .lock()
        .map_err(|_| "the GPU state was poisoned by an earlier panic")?;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let (op_b, ld_b) = as_transposed(&b).ok_or("b: strided view")?;
    let (op_a, ld_a) = as_transposed(&a).ok_or("a: strided view")?;
    let int =
        |v: usize| i32::try_from(v).map_err(|_| format!("dimension {v} too large for cuBLAS"));
    let cfg = GemmConfig {
        transa: op_b,
        transb: op_a,
        m: int(n)?,
        n: int(m)?,
        k: int(k)?,
        alpha: 1.0f32,
        lda: int(ld_b)?,
        ldb: int(ld_a)?,
        beta: if accumulate { 1.0 } else { 0.0 },
        ldc: int(n)?,
    };
    g.ctx.bind_to_thread().map_err(|e| format!("{e:?}"))?;
    let stream = g.stream.clone();
    let Gpu {
        a: da,
        b: db,
        c: dc,
        blas,
        ..
    } = &mut *g;
    let da = upload(&stream, da, a.data, extent(&a))?;
    let db = upload(&stream, db, b.data, extent(&b))?;
    let dc = if accumulate {
        upload(&stream, dc, c, m * n)?
    } else {
        ensure(&stream, dc, m * n)?
    };
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B's view goes first.
    // SAFETY: the buffers hold at least the extents cuBLAS reads and writes for these
    // dimensions and leading dimensions (checked by `as_transposed` and the uploads).
    unsafe { blas.gemm(cfg, &*db, &*da, dc) }.map_err(|e| format!("cuBLAS sgemm: {e:?}"))?;
    // into a staging vector first: `c` is written only when every CUDA call succeeded, so the
    // caller's CPU fallback never adds the product twice
    let host = stream
        .memcpy_dtov(&dc.slice(0..m * n))
        .map_err(|e| format!("{e:?}"))?;
    stream.synchronize().map_err(|e| format!("{e:?}"))?;
    c[..m * n].copy_from_slice(&host);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a machine with a GPU: every transpose combination, with and without accumulation,
    /// agrees with the CPU GEMM. Elsewhere: opening the GPU fails with a message, not a panic.
    #[test]
    fn gpu_gemm_matches_cpu_or_reports_why_not() {
        if let Err(e) = init(0) {
            eprintln!("skipped: no GPU here ({e})");
            assert!(e.contains("CUDA") || e.contains("cuBLAS"), "{e}");
            return;
        }
        let (m, k, n) = (37, 300, 129);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 17) as f32 / 17.0 - 0.5)
            .collect();
        for ta in [false, true] {
            for tb in [false, true] {
                for acc in [false, true] {
                    let va = if ta {
                        Mat::rm_t(&a, k, m)
                    } else {
                        Mat::rm(&a, m, k)
                    };
                    let vb = if tb {
                        Mat::rm_t(&b, n, k)
                    } else {
                        Mat::rm(&b, k, n)
                    };
                    let mut cpu = vec![0.25f32; m * n];
                    let mut gpu = cpu.clone();
                    crate::ops::matmul(va, vb, &mut cpu, acc, 1);
                    matmul(va, vb, &mut gpu, acc).unwrap();
                    let err = cpu
                        .iter()
                        .zip(&gpu)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0, f32::max);
                    assert!(err < 1e-3, "ta {ta} tb {tb} acc {acc}: max error {err}");
                }
            }
        }
    }
}
