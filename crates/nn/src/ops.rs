//! Low-level kernels: a safe GEMM wrapper over the `gemm` crate (cuBLAS with the `cuda`
//! feature and [`crate::set_device`]), im2col / col2im.

/// A matrix view: `data[r * rs + c * cs]` for `rows × cols`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The values; every `r * rs + c * cs` for `r < rows`, `c < cols` must be in range.
    pub data: &'a [f32],
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns of the matrix.
    pub cols: usize,
    /// Row stride, in elements (`cols` for row-major).
    pub rs: usize,
    /// Column stride, in elements (1 for row-major; `rows` for a transposed view).
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major `rows × cols`.
    pub fn rm(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of row-major `rows × cols` data (a `cols × rows` view).
    pub fn rm_t(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat {
            data,
            rows: cols,
            cols: rows,
            rs: 1,
            cs: cols,
        }
    }
    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// `c = a × b` (or `c += a × b` when `accumulate`), `c` row-major `a.rows × b.cols`.
/// `threads > 1` lets `gemm` split the work over the rayon pool.
pub fn matmul(a: Mat, b: Mat, c: &mut [f32], accumulate: bool, threads: usize) {
    assert_eq!(a.cols, b.rows, "matmul inner dimensions");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(c.len() >= m * n, "matmul output too small");
    a.check();
    b.check();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|v| *v = 0.0);
        }
        return;
    }
    #[cfg(feature = "cuda")]
    if crate::device::on_gpu(m * n * k) {
        match crate::cuda::matmul(a, b, c, accumulate) {
            Ok(()) => return,
            Err(e) => gpu_failed(&e), // the CPU computes this product instead
        }
    }
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the views were bounds-checked above; `c` holds m × n row-major values and does
    // not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// A GPU product that failed is computed on the CPU; say so once on stderr, not per product.
#[cfg(feature = "cuda")]
#[cold]
fn gpu_failed(e: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("warning: GPU matrix product failed ({e}); computing on the CPU"));
}

/// Geometry of a 2-D convolution or pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel side, pixels.
    pub k: usize,
    /// Step between windows, pixels (≥ 1).
    pub stride: usize,
    /// Zero padding on every side, pixels.
    pub pad: usize,
}

impl Window {
    /// Output size along one axis (floor mode); 0 if the window does not fit.
    pub fn out(&self, n: usize) -> usize {
        let padded = n + 2 * self.pad;
        if padded < self.k {
            0
        } else {
            (padded - self.k) / self.stride + 1
        }
    }
    /// Range of output positions `o` whose input `o*s + kk - p` is inside `0..n`.
    #[inline]
    pub fn valid(&self, kk: usize, n: usize, out: usize) -> (usize, usize) {
        // o*s + kk >= p  →  o >= ceil((p - kk) / s)
        let lo = if kk >= self.pad {
            0
        } else {
            (self.pad - kk).div_ceil(self.stride)
        };
        // o*s + kk - p <= n - 1  →  o <= (n - 1 + p - kk) / s
        let hi = if n + self.pad > kk {
            ((n - 1 + self.pad - kk) / self.stride + 1).min(out)
        } else {
            0
        };
        (lo.min(hi), hi)
    }
}

/// One image `[c, h, w]` → columns `[c·k·k, oh·ow]`.
pub fn im2col(x: &[f32], c: usize, h: usize, w: usize, win: Window, col: &mut [f32]) {
    im2col_rect(x, c, h, w, (win, win), col)
}

/// [`im2col`] with a window per axis, `(vertical, horizontal)` (a `kh × kw` kernel with its
/// own stride and padding on each axis): `[c, h, w]` → columns `[c·kh·kw, oh·ow]`, row
/// `(ci·kh + ky)·kw + kx`.
pub fn im2col_rect(
    x: &[f32],
    c: usize,
    h: usize,
    w: usize,
    (wy, wx): (Window, Window),
    col: &mut [f32],
) {
    let (oh, ow) = (wy.out(h), wx.out(w));
    let p = oh * ow;
    let (kh, kw, s) = (wy.k, wx.k, wx.stride);
    for ci in 0..c {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for ky in 0..kh {
            let (ylo, yhi) = wy.valid(ky, h, oh);
            for kx in 0..kw {
                let (xlo, xhi) = wx.valid(kx, w, ow);
                let row = (ci * kh + ky) * kw + kx;
                let dst = &mut col[row * p..(row + 1) * p];
                if ylo > 0 || yhi < oh || xlo > 0 || xhi < ow {
                    dst.iter_mut().for_each(|v| *v = 0.0);
                }
                for oy in ylo..yhi {
                    let iy = oy * wy.stride + ky - wy.pad;
                    let src = &plane[iy * w..(iy + 1) * w];
                    let d = &mut dst[oy * ow..(oy + 1) * ow];
                    if s == 1 {
                        let ix0 = xlo + kx - wx.pad;
                        d[xlo..xhi].copy_from_slice(&src[ix0..ix0 + (xhi - xlo)]);
                    } else {
                        for ox in xlo..xhi {
                            d[ox] = src[ox * s + kx - wx.pad];
                        }
                    }
                }
            }
        }
    }
}

/// Columns `[c·k·k, oh·ow]` → image gradient `[c, h, w]`, accumulated (the adjoint of
/// [`im2col`]). `x` is zeroed first.
pub fn col2im(col: &[f32], c: usize, h: usize, w: usize, win: Window, x: &mut [f32]) {
    col2im_rect(col, c, h, w, (win, win), x)
}

/// The adjoint of [`im2col_rect`] (see [`col2im`]), `x` zeroed first.
pub fn col2im_rect(
    col: &[f32],
    c: usize,
    h: usize,
    w: usize,
    (wy, wx): (Window, Window),
    x: &mut [f32],
) {
    let (oh, ow) = (wy.out(h), wx.out(w));
    let p = oh * ow;
    let (kh, kw, s) = (wy.k, wx.k, wx.stride);
    x[..c * h * w].iter_mut().for_each(|v| *v = 0.0);
    for ci in 0..c {
        let plane = &mut x[ci * h * w..(ci + 1) * h * w];
        for ky in 0..kh {
            let (ylo, yhi) = wy.valid(ky, h, oh);
            for kx in 0..kw {
                let (xlo, xhi) = wx.valid(kx, w, ow);
                let row = (ci * kh + ky) * kw + kx;
                let src = &col[row * p..(row + 1) * p];
                for oy in ylo..yhi {
                    let iy = oy * wy.stride + ky - wy.pad;
                    let d = &mut plane[iy * w..(iy + 1) * w];
                    let sr = &src[oy * ow..(oy + 1) * ow];
                    if s == 1 {
                        let ix0 = xlo + kx - wx.pad;
                        for (dv, sv) in d[ix0..ix0 + (xhi - xlo)].iter_mut().zip(&sr[xlo..xhi]) {
                            *dv += *sv;
                        }
                    } else {
                        for ox in xlo..xhi {
                            d[ox * s + kx - wx.pad] += sr[ox];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_matches_naive_with_transposes() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2x3
        let b: Vec<f32> = (0..12).map(|v| v as f32 * 0.5).collect(); // 3x4
        let mut c = vec![0.0; 8];
        matmul(Mat::rm(&a, 2, 3), Mat::rm(&b, 3, 4), &mut c, false, 1);
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
                assert!((c[i * 4 + j] - want).abs() < 1e-5);
            }
        }
        // aᵀ (3x2) × a (2x3) accumulated onto ones
        let mut d = vec![1.0; 9];
        matmul(Mat::rm_t(&a, 2, 3), Mat::rm(&a, 2, 3), &mut d, true, 1);
        for i in 0..3 {
            for j in 0..3 {
                let want: f32 = 1.0 + (0..2).map(|k| a[k * 3 + i] * a[k * 3 + j]).sum::<f32>();
                assert!((d[i * 3 + j] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn im2col_and_col2im_are_adjoint() {
        // <im2col(x), y> == <x, col2im(y)> for any x, y
        for &(k, s, pad) in &[(3, 1, 1), (3, 2, 1), (2, 2, 0), (5, 1, 0), (3, 3, 0)] {
            let win = Window { k, stride: s, pad };
            let (c, h, w) = (2, 7, 6);
            let (oh, ow) = (win.out(h), win.out(w));
            let x: Vec<f32> = (0..c * h * w)
                .map(|i| ((i * 37) % 11) as f32 - 5.0)
                .collect();
            let y: Vec<f32> = (0..c * k * k * oh * ow)
                .map(|i| ((i * 13) % 7) as f32 - 3.0)
                .collect();
            let mut col = vec![0.0; y.len()];
            im2col(&x, c, h, w, win, &mut col);
            let mut xb = vec![0.0; x.len()];
            col2im(&y, c, h, w, win, &mut xb);
            let l: f32 = col.iter().zip(&y).map(|(a, b)| a * b).sum();
            let r: f32 = x.iter().zip(&xb).map(|(a, b)| a * b).sum();
            assert!((l - r).abs() < 1e-3, "k{k} s{s} p{pad}: {l} vs {r}");
        }
    }

    #[test]
    fn rect_im2col_and_col2im_are_adjoint() {
        let w = |k, stride, pad| Window { k, stride, pad };
        for wins in [
            (w(1, 1, 0), w(7, 1, 3)),
            (w(3, 1, 1), w(1, 1, 0)),
            (w(3, 2, 0), w(2, 1, 1)),
        ] {
            let (c, h, wd) = (2, 7, 6);
            let (oh, ow) = (wins.0.out(h), wins.1.out(wd));
            let x: Vec<f32> = (0..c * h * wd)
                .map(|i| ((i * 37) % 11) as f32 - 5.0)
                .collect();
            let y: Vec<f32> = (0..c * wins.0.k * wins.1.k * oh * ow)
                .map(|i| ((i * 13) % 7) as f32 - 3.0)
                .collect();
            let mut col = vec![0.0; y.len()];
            im2col_rect(&x, c, h, wd, wins, &mut col);
            let mut xb = vec![0.0; x.len()];
            col2im_rect(&y, c, h, wd, wins, &mut xb);
            let l: f32 = col.iter().zip(&y).map(|(a, b)| a * b).sum();
            let r: f32 = x.iter().zip(&xb).map(|(a, b)| a * b).sum();
            assert!((l - r).abs() < 1e-3, "{wins:?}: {l} vs {r}");
        }
        // a square window through the rectangular path is the square one
        let win = w(3, 2, 1);
        let x: Vec<f32> = (0..2 * 5 * 5).map(|i| i as f32).collect();
        let (mut a, mut b) = (vec![0.0; 2 * 9 * 9], vec![0.0; 2 * 9 * 9]);
        im2col(&x, 2, 5, 5, win, &mut a);
        im2col_rect(&x, 2, 5, 5, (win, win), &mut b);
        assert_eq!(a, b);
    }
}
