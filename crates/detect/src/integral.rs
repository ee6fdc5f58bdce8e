//! Integral images as OpenCV's `cv::integral(img, sum, sqsum, tilted, CV_32S, CV_32S)` builds
//! them: `(w+1) × (h+1)` tables with a zero first row and column, 32-bit with wrap-around
//! (sums of squares overflow on big images; window differences stay exact modulo 2³²).

/// Fill `sum` and `sq` (each `(w+1)·(h+1)`, row stride `w+1`) from an 8-bit image.
pub fn integral_sum_sq(img: &[u8], w: usize, h: usize, sum: &mut [i32], sq: &mut [i32]) {
    let s = w + 1;
    debug_assert!(sum.len() >= s * (h + 1) && sq.len() >= s * (h + 1));
    sum[..s].fill(0);
    sq[..s].fill(0);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        let (prev_s, cur_s) = sum[y * s..(y + 2) * s].split_at_mut(s);
        let (prev_q, cur_q) = sq[y * s..(y + 2) * s].split_at_mut(s);
        cur_s[0] = 0;
        cur_q[0] = 0;
        let mut rs: i32 = 0;
        let mut rq: i32 = 0;
        for x in 0..w {
            let v = row[x] as i32;
            rs = rs.wrapping_add(v);
            rq = rq.wrapping_add(v * v);
            cur_s[x + 1] = prev_s[x + 1].wrapping_add(rs);
            cur_q[x + 1] = prev_q[x + 1].wrapping_add(rq);
        }
    }
}

/// Fill `sum` only.
pub fn integral_sum(img: &[u8], w: usize, h: usize, sum: &mut [i32]) {
    let s = w + 1;
    sum[..s].fill(0);
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        let (prev, cur) = sum[y * s..(y + 2) * s].split_at_mut(s);
        cur[0] = 0;
        let mut rs: i32 = 0;
        for x in 0..w {
            rs = rs.wrapping_add(row[x] as i32);
            cur[x + 1] = prev[x + 1].wrapping_add(rs);
        }
    }
}

/// Fill the 45°-rotated integral `t` (`(w+1)·(h+1)`): `t(X, Y)` = sum of pixels `(x, y)` with
/// `y < Y` and `|x - X + 1| ≤ Y - y - 1` (OpenCV's definition), by the recurrence
/// `t(X,Y) = t(X-1,Y-1) + t(X+1,Y-1) - t(X,Y-2) + I(X-1,Y-1) + I(X-1,Y-2)` with the border
/// columns handled exactly.
pub fn integral_tilted(img: &[u8], w: usize, h: usize, t: &mut [i32]) {
    let s = w + 1;
    t[..s * (h + 1)].fill(0);
    let px = |x: usize, y: usize| -> i32 { img[y * w + x] as i32 };
    for yy in 1..=h {
        let y = yy;
        // column 0: equals t(1, Y-1)
        t[y * s] = t[(y - 1) * s + 1.min(w)];
        for x in 1..=w {
            let mut v = t[(y - 1) * s + x - 1].wrapping_add(px(x - 1, y - 1));
            if y >= 2 {
                v = v.wrapping_add(px(x - 1, y - 2));
            }
            if x < w {
                v = v.wrapping_add(t[(y - 1) * s + x + 1]);
                if y >= 2 {
                    v = v.wrapping_sub(t[(y - 2) * s + x]);
                }
            }
            t[y * s + x] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| ((i * 37 + i / 7 * 11) % 251) as u8)
            .collect()
    }

    #[test]
    fn sums_match_brute_force() {
        let (w, h) = (9, 7);
        let im = img(w, h);
        let mut s = vec![0; (w + 1) * (h + 1)];
        let mut q = vec![0; (w + 1) * (h + 1)];
        integral_sum_sq(&im, w, h, &mut s, &mut q);
        for yy in 0..=h {
            for xx in 0..=w {
                let (mut bs, mut bq) = (0i64, 0i64);
                for y in 0..yy {
                    for x in 0..xx {
                        let v = im[y * w + x] as i64;
                        bs += v;
                        bq += v * v;
                    }
                }
                assert_eq!(s[yy * (w + 1) + xx] as i64, bs);
                assert_eq!(q[yy * (w + 1) + xx] as i64, bq);
            }
        }
    }

    #[test]
    fn tilted_matches_definition() {
        for (w, h) in [(1, 1), (2, 5), (8, 6), (5, 11)] {
            let im = img(w, h);
            let mut t = vec![0; (w + 1) * (h + 1)];
            integral_tilted(&im, w, h, &mut t);
            for yy in 0..=h as i64 {
                for xx in 0..=w as i64 {
                    let mut b = 0i64;
                    for y in 0..yy {
                        for x in 0..w as i64 {
                            if (x - xx + 1).abs() < yy - y {
                                b += im[(y as usize) * w + x as usize] as i64;
                            }
                        }
                    }
                    assert_eq!(
                        t[yy as usize * (w + 1) + xx as usize] as i64,
                        b,
                        "{w}x{h} at ({xx},{yy})"
                    );
                }
            }
        }
    }
}
