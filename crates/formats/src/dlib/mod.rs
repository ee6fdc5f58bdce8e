//! dlib's binary serialization (`dlib/serialize.h`), the primitives every dlib file is made
//! of: shape predictors (`.dat`), DNN weights, object detectors.
//!
//! | dlib type | encoding | here |
//! |---|---|---|
//! | integers (`int`, `long`, `unsigned long`, …) | a control byte (low nibble: byte count 1–8; `0x80`: negative, signed types only) then the magnitude, little-endian, without high zero bytes | [`DlibReader::read_signed`], [`DlibReader::read_unsigned`] |
//! | `float`, `double` | `float_details`: `int64` mantissa then `int16` exponent, value = mantissa · 2^exponent; exponent 32000 / 32001 / 32002 mean +∞ / −∞ / NaN | [`FloatDetails`], [`DlibReader::read_f32`] |
//! | `bool` | one ASCII byte, `'1'` or `'0'` | [`DlibReader::read_bool`] |
//! | `char`, `unsigned char` | one raw byte | [`DlibReader::read_byte`] |
//! | `std::string` | length (`unsigned long`), then the raw bytes | [`DlibReader::read_string`] |
//! | `std::vector<T>` | length (`unsigned long`), then each element | [`DlibReader::read_vec`] |
//! | `matrix<T,NR,NC>` | `-rows`, `-cols` (`long`; the older format wrote them positive), then the elements row by row | [`DlibReader::read_matrix_f32`] |
//! | `vector<T,2>` (a point) | `x`, `y` | [`DlibReader::read_point_f32`] |
//!
//! Contract of the reader: it never panics on any input; every error is a [`DlibError`] with
//! the byte offset where the bad item starts and what was expected there; lengths read from the
//! file are checked against the bytes left before anything is allocated (each element of a
//! vector needs at least one byte, a float at least four), so a hostile length cannot make it
//! allocate more than a small multiple of the input's size. Values are decoded exactly as dlib
//! decodes them (the same rounding, the same special values), and [`DlibWriter`] writes the
//! bytes dlib's `serialize` writes, so a file read and written back is identical.

use std::fmt;

/// Where and why reading dlib's serialization failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {expected}{}", context_suffix(.context))]
pub struct DlibError {
    /// Byte offset (from the start of the buffer) of the item that failed.
    pub offset: usize,
    /// What was expected there, and what was found.
    pub expected: String,
    /// The enclosing items, innermost first (`"forests[2][7]"`, `"shape_predictor"`).
    pub context: Vec<String>,
}

fn context_suffix(context: &[String]) -> String {
    let mut s = String::new();
    for c in context {
        s.push_str(" (in ");
        s.push_str(c);
        s.push(')');
    }
    s
}

impl DlibError {
    /// An error at `offset`.
    pub fn new(offset: usize, expected: impl Into<String>) -> Self {
        DlibError {
            offset,
            expected: expected.into(),
            context: Vec::new(),
        }
    }

    /// Adds an enclosing item to the error's context (call on the error path only; it allocates).
    pub fn within(mut self, what: impl fmt::Display) -> Self {
        self.context.push(what.to_string());
        self
    }
}

/// Result of this module's readers.
pub type DlibResult<T> = Result<T, DlibError>;

/// The special exponent of [`FloatDetails`] that means +∞.
pub const FLOAT_IS_INF: i16 = 32000;
/// The special exponent of [`FloatDetails`] that means −∞.
pub const FLOAT_IS_NINF: i16 = 32001;
/// The special exponent of [`FloatDetails`] that means NaN.
pub const FLOAT_IS_NAN: i16 = 32002;

/// dlib's portable float: `mantissa · 2^exponent`, or ±∞ / NaN when `exponent` is one of
/// [`FLOAT_IS_INF`], [`FLOAT_IS_NINF`], [`FLOAT_IS_NAN`] (`dlib/float_details.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloatDetails {
    /// Signed integer mantissa.
    pub mantissa: i64,
    /// Power of two (or a special value).
    pub exponent: i16,
}

impl FloatDetails {
    /// dlib's codes for the values without a significand: ±infinity and NaN (`f32` ones
    /// widen to `f64` exactly, so one check serves both widths).
    fn special(v: f64) -> Option<Self> {
        let exponent = if v == f64::INFINITY {
            FLOAT_IS_INF
        } else if v == f64::NEG_INFINITY {
            FLOAT_IS_NINF
        } else if v.is_nan() {
            FLOAT_IS_NAN
        } else {
            return None;
        };
        Some(FloatDetails {
            mantissa: 0,
            exponent,
        })
    }

    /// dlib's encoding of an `f64` (what `float_details(double)` computes: the 53-bit
    /// significand as an integer, then low zero bytes shifted off; zero is `0 · 2^11`).
    pub fn from_f64(v: f64) -> Self {
        if let Some(d) = Self::special(v) {
            return d;
        }
        let bits = v.to_bits();
        let neg = bits >> 63 != 0;
        let e = ((bits >> 52) & 0x7ff) as i32;
        let f = bits & ((1u64 << 52) - 1);
        let (sig, exp) = if e == 0 && f == 0 {
            // frexp(0) = 0 with exponent 0: mantissa 0, exponent -53.
            (0u64, -53)
        } else if e == 0 {
            let k = 64 - f.leading_zeros() as i32; // bit length
            (f << (53 - k), -1074 + k - 53)
        } else {
            ((1u64 << 52) | f, e - 1075)
        };
        Self::compact(if neg { -(sig as i64) } else { sig as i64 }, exp)
    }

    /// dlib's encoding of an `f32` (`float_details(float)`: the 24-bit significand as an
    /// integer, then low zero bytes shifted off; zero is `0 · 2^40`).
    pub fn from_f32(v: f32) -> Self {
        if let Some(d) = Self::special(v as f64) {
            return d;
        }
        let bits = v.to_bits();
        let neg = bits >> 31 != 0;
        let e = ((bits >> 23) & 0xff) as i32;
        let f = (bits & ((1u32 << 23) - 1)) as u64;
        let (sig, exp) = if e == 0 && f == 0 {
            (0u64, -24)
        } else if e == 0 {
            let k = 64 - f.leading_zeros() as i32;
            (f << (24 - k), -149 + k - 24)
        } else {
            ((1u64 << 23) | f, e - 150)
        };
        Self::compact(if neg { -(sig as i64) } else { sig as i64 }, exp)
    }

    fn compact(mut mantissa: i64, mut exponent: i32) -> Self {
        for _ in 0..8 {
            if mantissa & 0xff != 0 {
                break;
            }
            mantissa >>= 8;
            exponent += 8;
        }
        FloatDetails {
            mantissa,
            // In range for every finite f32/f64: |exponent| < 1200.
            exponent: exponent as i16,
        }
    }

    /// The value as an `f64`, as dlib converts it (`ldexp((double)mantissa, exponent)`).
    pub fn to_f64(self) -> f64 {
        match self.exponent {
            FLOAT_IS_INF => f64::INFINITY,
            FLOAT_IS_NINF => f64::NEG_INFINITY,
            e if e > FLOAT_IS_INF => f64::NAN,
            e => ldexp(self.mantissa as f64, e as i32),
        }
    }

    /// The value as an `f32`, as dlib converts it (`ldexp((float)mantissa, exponent)`: the
    /// mantissa is rounded to `f32` first, then scaled).
    pub fn to_f32(self) -> f32 {
        match self.exponent {
            FLOAT_IS_INF => f32::INFINITY,
            FLOAT_IS_NINF => f32::NEG_INFINITY,
            e if e > FLOAT_IS_INF => f32::NAN,
            e => {
                // (m as f32) has 24 significant bits, so m·2^e is exact in f64 over the whole
                // range where the f32 result is neither 0 nor ∞; the final cast rounds once,
                // as ldexpf does.
                let m = (self.mantissa as f32) as f64;
                ldexp(m, (e as i32).clamp(-2000, 2000)) as f32
            }
        }
    }
}

/// `x · 2^n`, correctly rounded (musl's `scalbn`), as C's `ldexp`.
fn ldexp(x: f64, mut n: i32) -> f64 {
    let p1023 = f64::from_bits(0x7fe0_0000_0000_0000); // 2^1023
    let pm969 = f64::from_bits(0x0010_0000_0000_0000) * f64::from_bits(0x4340_0000_0000_0000); // 2^-1022 · 2^53
    let mut y = x;
    if n > 1023 {
        y *= p1023;
        n -= 1023;
        if n > 1023 {
            y *= p1023;
            n -= 1023;
            if n > 1023 {
                n = 1023;
            }
        }
    } else if n < -1022 {
        y *= pm969;
        n += 1022 - 53;
        if n < -1022 {
            y *= pm969;
            n += 1022 - 53;
            if n < -1022 {
                n = -1022;
            }
        }
    }
    y * f64::from_bits(((0x3ff + n) as u64) << 52)
}

/// A dense matrix read from or written as dlib's `matrix<float>`: row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixF32 {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows · cols` values, row by row.
    pub data: Vec<f32>,
}

/// Reads dlib's serialization from a byte slice, keeping the offset for errors.
#[derive(Debug, Clone)]
pub struct DlibReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> DlibReader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        DlibReader { data, pos: 0 }
    }

    /// Offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Ensures the whole buffer was read (`what` names the object that should end there).
    pub fn expect_end(&self, what: &str) -> DlibResult<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DlibError::new(
                self.pos,
                format!(
                    "end of data after {what}, found {} more bytes",
                    self.remaining()
                ),
            ))
        }
    }

    fn eof(&self, at: usize, what: &str) -> DlibError {
        DlibError::new(
            at,
            format!("{what}, found the end of the data (truncated file?)"),
        )
    }

    /// One raw byte (`char`, `unsigned char`).
    pub fn read_byte(&mut self, what: &str) -> DlibResult<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof(self.pos, what)),
        }
    }

    /// `n` raw bytes.
    pub fn read_bytes(&mut self, n: usize, what: &str) -> DlibResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(DlibError::new(
                self.pos,
                format!(
                    "{what}: {n} bytes, found only {} (truncated file?)",
                    self.remaining()
                ),
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// An unsigned integer of a C++ type `width` bytes wide (`unsigned long`: 8, `unsigned
    /// int`: 4), as `ser_helper::unpack_int` reads it.
    pub fn read_unsigned(&mut self, width: u8, what: &str) -> DlibResult<u64> {
        let start = self.pos;
        let ctrl = self.read_byte(what)?;
        let size = ctrl & 0x8f;
        if size == 0 || size > width.min(8) {
            return Err(DlibError::new(
                start,
                format!("{what}: an unsigned integer of at most {width} bytes, found control byte 0x{ctrl:02x}"),
            ));
        }
        let bytes = self
            .read_bytes(size as usize, what)
            .map_err(|_| self.eof(start, what))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// A signed integer of a C++ type `width` bytes wide (`long`: 8, `int`: 4, `short`: 2),
    /// as `ser_helper::unpack_int` reads it (two's-complement wrapping where dlib's would).
    pub fn read_signed(&mut self, width: u8, what: &str) -> DlibResult<i64> {
        let start = self.pos;
        let ctrl = self.read_byte(what)?;
        let neg = ctrl & 0x80 != 0;
        let size = ctrl & 0x0f;
        let width = width.clamp(1, 8);
        if size == 0 || size > width {
            return Err(DlibError::new(
                start,
                format!("{what}: a signed integer of at most {width} bytes, found control byte 0x{ctrl:02x}"),
            ));
        }
        let bytes = self
            .read_bytes(size as usize, what)
            .map_err(|_| self.eof(start, what))?;
        let mag = bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64);
        // Reinterpret as the C++ type of `width` bytes (sign-extend), then negate.
        let shift = 64 - 8 * width as u32;
        let v = ((mag << shift) as i64) >> shift;
        let v = if neg { v.wrapping_neg() } else { v };
        Ok((v << shift) >> shift)
    }

    /// `unsigned long` (8 bytes on the LP64 systems dlib files come from; the encoding does not
    /// depend on it).
    pub fn read_ulong(&mut self, what: &str) -> DlibResult<u64> {
        self.read_unsigned(8, what)
    }

    /// `long` (8 bytes).
    pub fn read_long(&mut self, what: &str) -> DlibResult<i64> {
        self.read_signed(8, what)
    }

    /// `int` (4 bytes).
    pub fn read_int(&mut self, what: &str) -> DlibResult<i32> {
        Ok(self.read_signed(4, what)? as i32)
    }

    /// `unsigned int` (4 bytes).
    pub fn read_uint(&mut self, what: &str) -> DlibResult<u32> {
        Ok(self.read_unsigned(4, what)? as u32)
    }

    /// A `float_details` (the binary float format). The older ASCII float format (dlib before
    /// 2013, recognisable by a first byte with any of the bits `0x70` set) is refused with an
    /// error.
    pub fn read_float_details(&mut self, what: &str) -> DlibResult<FloatDetails> {
        let start = self.pos;
        match self.data.get(self.pos) {
            None => return Err(self.eof(start, what)),
            Some(&b) if b & 0x70 != 0 => {
                return Err(DlibError::new(
                    start,
                    format!("{what}: a binary float (dlib ≥ 18), found byte 0x{b:02x} (dlib's old ASCII float format is not supported)"),
                ))
            }
            Some(_) => {}
        }
        let mantissa = self
            .read_signed(8, what)
            .map_err(|e| e.within("the mantissa of a float"))?;
        let exponent = self
            .read_signed(2, what)
            .map_err(|e| e.within("the exponent of a float"))? as i16;
        Ok(FloatDetails { mantissa, exponent })
    }

    /// A `float`.
    pub fn read_f32(&mut self, what: &str) -> DlibResult<f32> {
        Ok(self.read_float_details(what)?.to_f32())
    }

    /// A `double`.
    pub fn read_f64(&mut self, what: &str) -> DlibResult<f64> {
        Ok(self.read_float_details(what)?.to_f64())
    }

    /// A `bool` (`'1'` or `'0'`).
    pub fn read_bool(&mut self, what: &str) -> DlibResult<bool> {
        let start = self.pos;
        match self.read_byte(what)? {
            b'1' => Ok(true),
            b'0' => Ok(false),
            b => Err(DlibError::new(
                start,
                format!("{what}: a bool ('0' or '1'), found byte 0x{b:02x}"),
            )),
        }
    }

    /// A length (`unsigned long`) of a sequence whose elements take at least `min_elem_bytes`
    /// bytes each: refused when the rest of the data cannot hold that many, so that the caller
    /// may allocate it.
    pub fn read_len(&mut self, min_elem_bytes: usize, what: &str) -> DlibResult<usize> {
        let start = self.pos;
        let n = self.read_ulong(what)?;
        let need = (n as u128) * (min_elem_bytes.max(1) as u128);
        if need > self.remaining() as u128 {
            return Err(DlibError::new(
                start,
                format!(
                    "{what}: a length the data can hold, found {n} (needs at least {need} bytes, {} left; truncated or corrupt file?)",
                    self.remaining()
                ),
            ));
        }
        Ok(n as usize)
    }

    /// A `std::string` as raw bytes.
    pub fn read_byte_string(&mut self, what: &str) -> DlibResult<&'a [u8]> {
        let n = self.read_len(1, what)?;
        self.read_bytes(n, what)
    }

    /// A `std::string` that must be UTF-8 (dlib's names and tags are ASCII).
    pub fn read_string(&mut self, what: &str) -> DlibResult<String> {
        let start = self.pos;
        let b = self.read_byte_string(what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DlibError::new(start, format!("{what}: a UTF-8 string")))
    }

    /// A `std::vector<T>`: the length, then `read_elem` for each element (given its index).
    /// `min_elem_bytes` is the fewest bytes one element can take (see [`Self::read_len`]).
    pub fn read_vec<T>(
        &mut self,
        min_elem_bytes: usize,
        what: &str,
        mut read_elem: impl FnMut(&mut Self, usize) -> DlibResult<T>,
    ) -> DlibResult<Vec<T>> {
        let n = self.read_len(min_elem_bytes, what)?;
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            v.push(read_elem(self, i)?);
        }
        Ok(v)
    }

    /// `std::vector<float>`.
    pub fn read_vec_f32(&mut self, what: &str) -> DlibResult<Vec<f32>> {
        self.read_vec(MIN_FLOAT_BYTES, what, |r, _| r.read_f32(what))
    }

    /// `std::vector<unsigned long>`.
    pub fn read_vec_ulong(&mut self, what: &str) -> DlibResult<Vec<u64>> {
        self.read_vec(MIN_INT_BYTES, what, |r, _| r.read_ulong(what))
    }

    /// A `matrix<float>` of any shape (`expect_rows` / `expect_cols`: the compile-time size
    /// of the C++ type, `None` for 0 = dynamic; a mismatch is an error as in dlib).
    pub fn read_matrix_f32(
        &mut self,
        expect_rows: Option<usize>,
        expect_cols: Option<usize>,
        what: &str,
    ) -> DlibResult<MatrixF32> {
        let start = self.pos;
        let mut nr = self
            .read_long(what)
            .map_err(|e| e.within("the row count of a matrix"))?;
        let mut nc = self
            .read_long(what)
            .map_err(|e| e.within("the column count of a matrix"))?;
        if nr < 0 || nc < 0 {
            nr = nr.wrapping_neg();
            nc = nc.wrapping_neg();
        }
        if nr < 0 || nc < 0 {
            return Err(DlibError::new(
                start,
                format!("{what}: matrix dimensions, found {nr} × {nc}"),
            ));
        }
        let (rows, cols) = (nr as u64, nc as u64);
        if expect_rows.is_some_and(|r| r as u64 != rows)
            || expect_cols.is_some_and(|c| c as u64 != cols)
        {
            return Err(DlibError::new(
                start,
                format!(
                    "{what}: a matrix of {} × {}, found {rows} × {cols}",
                    expect_rows.map_or("any".into(), |r| r.to_string()),
                    expect_cols.map_or("any".into(), |c| c.to_string())
                ),
            ));
        }
        let n = rows as u128 * cols as u128;
        if n * MIN_FLOAT_BYTES as u128 > self.remaining() as u128 {
            return Err(DlibError::new(
                start,
                format!("{what}: a {rows} × {cols} matrix, but only {} bytes are left (truncated or corrupt file?)", self.remaining()),
            ));
        }
        let n = n as usize;
        let mut data = Vec::with_capacity(n);
        for _ in 0..n {
            data.push(self.read_f32(what)?);
        }
        Ok(MatrixF32 {
            rows: rows as usize,
            cols: cols as usize,
            data,
        })
    }

    /// A `matrix<float,0,1>` (column vector).
    pub fn read_column_f32(&mut self, what: &str) -> DlibResult<Vec<f32>> {
        Ok(self.read_matrix_f32(None, Some(1), what)?.data)
    }

    /// A `dlib::vector<float,2>` (a point): `[x, y]`.
    pub fn read_point_f32(&mut self, what: &str) -> DlibResult<[f32; 2]> {
        Ok([self.read_f32(what)?, self.read_f32(what)?])
    }
}

/// The fewest bytes a serialized integer takes (control byte + one byte).
pub const MIN_INT_BYTES: usize = 2;
/// The fewest bytes a serialized float takes (two integers).
pub const MIN_FLOAT_BYTES: usize = 2 * MIN_INT_BYTES;

/// Writes dlib's serialization: the bytes dlib's `serialize` writes for the same values.
#[derive(Debug, Clone, Default)]
pub struct DlibWriter {
    buf: Vec<u8>,
}

impl DlibWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One raw byte.
    pub fn write_byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Raw bytes.
    pub fn write_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn write_magnitude(&mut self, mut mag: u64, neg: bool) {
        let mut bytes = [0u8; 8];
        let mut size = 8;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (mag & 0xff) as u8;
            mag >>= 8;
            if mag == 0 {
                size = i + 1;
                break;
            }
        }
        self.buf.push(size as u8 | if neg { 0x80 } else { 0 });
        self.buf.extend_from_slice(&bytes[..size]);
    }

    /// Any unsigned integer (`unsigned long`, `unsigned int`, …; the encoding does not depend
    /// on the width).
    pub fn write_unsigned(&mut self, v: u64) {
        self.write_magnitude(v, false);
    }

    /// Any signed integer (`long`, `int`, `short`).
    pub fn write_signed(&mut self, v: i64) {
        self.write_magnitude(v.unsigned_abs(), v < 0);
    }

    /// A `float_details`.
    pub fn write_float_details(&mut self, f: FloatDetails) {
        self.write_signed(f.mantissa);
        self.write_signed(f.exponent as i64);
    }

    /// A `float`.
    pub fn write_f32(&mut self, v: f32) {
        self.write_float_details(FloatDetails::from_f32(v));
    }

    /// A `double`.
    pub fn write_f64(&mut self, v: f64) {
        self.write_float_details(FloatDetails::from_f64(v));
    }

    /// A `bool`.
    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(if v { b'1' } else { b'0' });
    }

    /// A `std::string`.
    pub fn write_string(&mut self, s: &[u8]) {
        self.write_unsigned(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// The length of a `std::vector` (then write its elements).
    pub fn write_len(&mut self, n: usize) {
        self.write_unsigned(n as u64);
    }

    /// A `matrix<float>` of `rows × cols` (row-major `data`), in the current format (negated
    /// dimensions).
    ///
    /// Requires `data.len() == rows · cols` (panics otherwise: a caller's bug).
    pub fn write_matrix_f32(&mut self, rows: usize, cols: usize, data: &[f32]) {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match its size"
        );
        self.write_signed(-(rows as i64));
        self.write_signed(-(cols as i64));
        for &v in data {
            self.write_f32(v);
        }
    }

    /// A `matrix<float,0,1>` (column vector).
    pub fn write_column_f32(&mut self, data: &[f32]) {
        self.write_matrix_f32(data.len(), 1, data);
    }

    /// A `dlib::vector<float,2>`.
    pub fn write_point_f32(&mut self, p: [f32; 2]) {
        self.write_f32(p[0]);
        self.write_f32(p[1]);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[rustfmt::skip]
mod fixtures;
