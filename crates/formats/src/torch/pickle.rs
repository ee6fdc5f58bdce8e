//! The subset of Python's pickle that `torch.save` writes for a state dict (protocols 2–4):
//! a stack machine over a small value type, with the few callables a state dict names
//! (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`) and
//! torch's persistent ids for storages. Anything else is an error naming the byte offset; it
//! never executes anything, never panics and allocates in proportion to its input (values
//! copied out of the memo are charged against a budget of the input's size).

use super::{Dtype, TorchError};

/// A storage as a persistent id names it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StorageRef {
    /// Element type.
    pub dtype: Dtype,
    /// The storage's key: its file in the zip (`data/<key>`), its position in legacy files.
    pub key: String,
    /// Elements in the storage.
    pub numel: usize,
}

/// A tensor: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TensorRef {
    pub storage: StorageRef,
    /// Offset of the first element, in elements.
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// A pickled value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Storage(StorageRef),
    Tensor(TensorRef),
    Mark,
}

impl Value {
    /// Values inside, counted recursively (the cost of a copy).
    fn weight(&self) -> usize {
        1 + match self {
            Value::Tuple(v) | Value::List(v) => v.iter().map(Value::weight).sum(),
            Value::Dict(v) => v.iter().map(|(k, x)| k.weight() + x.weight()).sum(),
            Value::Str(s) => s.len() / 16,
            Value::Bytes(b) => b.len() / 16,
            Value::Tensor(t) => t.shape.len(),
            _ => 0,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(..) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
            Value::Mark => "mark",
        }
    }
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: std::collections::HashMap<u32, Value>,
    budget: usize,
}

/// Reads one pickle from the start of `data`; returns the value and the bytes it took.
pub(super) fn load(data: &[u8]) -> Result<(Value, usize), TorchError> {
    let mut vm = Vm {
        data,
        pos: 0,
        stack: Vec::new(),
        memo: Default::default(),
        budget: 1 << 20 | data.len().saturating_mul(8),
    };
    let v = vm.run()?;
    Ok((v, vm.pos))
}

impl<'a> Vm<'a> {
    fn err(&self, msg: impl Into<String>) -> TorchError {
        TorchError::Pickle {
            offset: self.pos,
            msg: msg.into(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], TorchError> {
        if self.data.len() - self.pos < n {
            return Err(self.err(format!("truncated: {n} more bytes expected")));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, TorchError> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> Result<u64, TorchError> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |a, &x| a << 8 | x as u64))
    }
    fn line(&mut self) -> Result<String, TorchError> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("GLOBAL without a newline"))?;
        let s = std::str::from_utf8(&rest[..end])
            .map_err(|_| self.err("GLOBAL name is not UTF-8"))?
            .to_string();
        self.pos += end + 1;
        Ok(s)
    }
    fn text(&mut self, n: usize) -> Result<Value, TorchError> {
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(|s| Value::Str(s.to_string()))
            .map_err(|_| self.err("string is not UTF-8"))
    }
    fn pop(&mut self) -> Result<Value, TorchError> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(self.err("stack underflow")),
            Some(v) => Ok(v),
        }
    }
    /// The values above the topmost mark, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, TorchError> {
        let at = self
            .stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }
    fn top(&mut self) -> Result<&mut Value, TorchError> {
        let pos = self.pos;
        match self.stack.last_mut() {
            Some(Value::Mark) | None => Err(TorchError::Pickle {
                offset: pos,
                msg: "stack underflow".into(),
            }),
            Some(v) => Ok(v),
        }
    }
    fn push(&mut self, v: Value) -> Result<(), TorchError> {
        if self.stack.len() >= 1 << 16 {
            return Err(self.err("stack deeper than 65536"));
        }
        self.stack.push(v);
        Ok(())
    }
    fn put(&mut self, k: u32) -> Result<(), TorchError> {
        let v = self.top()?.clone();
        self.charge(v.weight())?;
        self.memo.insert(k, v);
        Ok(())
    }
    fn get(&mut self, k: u32) -> Result<(), TorchError> {
        let v = self
            .memo
            .get(&k)
            .cloned()
            .ok_or_else(|| self.err(format!("memo {k} read before it was written")))?;
        self.charge(v.weight())?;
        self.push(v)
    }
    fn charge(&mut self, w: usize) -> Result<(), TorchError> {
        self.budget = self
            .budget
            .checked_sub(w)
            .ok_or_else(|| self.err("pickle expands beyond a multiple of its size"))?;
        Ok(())
    }

    fn run(&mut self) -> Result<Value, TorchError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if !(2..=5).contains(&p) {
                        return Err(self.err(format!("pickle protocol {p} (2 to 5 read)")));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(),
                b'(' => self.push(Value::Mark)?,
                b')' => self.push(Value::Tuple(vec![]))?,
                b'}' => self.push(Value::Dict(vec![]))?,
                b']' => self.push(Value::List(vec![]))?,
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'K' => {
                    let v = self.le(1)? as i128;
                    self.push(Value::Int(v))?
                }
                b'M' => {
                    let v = self.le(2)? as i128;
                    self.push(Value::Int(v))?
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32 as i128;
                    self.push(Value::Int(v))?
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    if n > 16 {
                        return Err(self.err(format!("LONG1 of {n} bytes (16 at most)")));
                    }
                    let b = self.take(n)?;
                    let mut v = b.iter().rev().fold(0i128, |a, &x| a << 8 | x as i128);
                    if n > 0 && n < 16 && b[n - 1] & 0x80 != 0 {
                        v -= 1i128 << (8 * n);
                    }
                    self.push(Value::Int(v))?
                }
                b'G' => {
                    let b = self.take(8)?;
                    let v = f64::from_be_bytes(b.try_into().expect("8 bytes"));
                    self.push(Value::Float(v))?
                }
                b'X' => {
                    let n = self.le(4)? as usize;
                    let v = self.text(n)?;
                    self.push(v)?
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.text(n)?;
                    self.push(v)?
                }
                b'C' | b'B' => {
                    let n = if op == b'C' {
                        self.u8()? as usize
                    } else {
                        self.le(4)? as usize
                    };
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                b'c' => {
                    let (m, n) = (self.line()?, self.line()?);
                    self.push(Value::Global(m, n))?
                }
                0x93 => {
                    let (n, m) = (self.pop()?, self.pop()?);
                    match (m, n) {
                        (Value::Str(m), Value::Str(n)) => self.push(Value::Global(m, n))?,
                        _ => return Err(self.err("STACK_GLOBAL of non-strings")),
                    }
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(items))?
                }
                b'q' => {
                    let k = self.le(1)? as u32;
                    self.put(k)?
                }
                b'r' => {
                    let k = self.le(4)? as u32;
                    self.put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.put(k)?
                }
                b'h' => {
                    let k = self.le(1)? as u32;
                    self.get(k)?
                }
                b'j' => {
                    let k = self.le(4)? as u32;
                    self.get(k)?
                }
                b's' => {
                    let (v, k) = (self.pop()?, self.pop()?);
                    self.dict_insert(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.err("SETITEMS with an odd number of values"));
                    }
                    self.dict_insert(items)?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.list_extend(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.list_extend(items)?
                }
                b'b' => {
                    // BUILD: object state (an OrderedDict's `_metadata`, a tensor's extra
                    // attributes); the values a state dict needs do not depend on it
                    self.pop()?;
                    self.top()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.push(v)?
                }
                b'R' => {
                    let (args, f) = (self.pop()?, self.pop()?);
                    let v = self.reduce(f, args)?;
                    self.push(v)?
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.err(format!("unsupported pickle opcode 0x{op:02x}")));
                }
            }
        }
    }

    fn dict_insert(&mut self, items: Vec<Value>) -> Result<(), TorchError> {
        let pos = self.pos;
        match self.top()? {
            Value::Dict(d) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
                Ok(())
            }
            other => Err(TorchError::Pickle {
                offset: pos,
                msg: format!("SETITEM on a {}", other.kind()),
            }),
        }
    }

    fn list_extend(&mut self, items: Vec<Value>) -> Result<(), TorchError> {
        let pos = self.pos;
        match self.top()? {
            Value::List(l) => {
                l.extend(items);
                Ok(())
            }
            other => Err(TorchError::Pickle {
                offset: pos,
                msg: format!("APPEND on a {}", other.kind()),
            }),
        }
    }

    /// torch's persistent id of a storage: `('storage', torch.FloatStorage, key, location,
    /// numel[, view_metadata])`.
    fn persistent(&self, pid: Value) -> Result<Value, TorchError> {
        let Value::Tuple(t) = pid else {
            return Err(self.err(format!("persistent id is a {}", pid.kind())));
        };
        match t.as_slice() {
            [Value::Str(tag), Value::Global(module, name), Value::Str(key), Value::Str(_), Value::Int(numel), rest @ ..]
                if tag == "storage" && module == "torch" && rest.len() <= 1 =>
            {
                if !matches!(rest.first(), None | Some(Value::None)) {
                    return Err(self.err("storage views (legacy view_metadata) are not read"));
                }
                let dtype = Dtype::from_storage(name)
                    .ok_or_else(|| self.err(format!("unknown storage type torch.{name}")))?;
                let numel = usize::try_from(*numel)
                    .map_err(|_| self.err(format!("storage size {numel}")))?;
                Ok(Value::Storage(StorageRef {
                    dtype,
                    key: key.clone(),
                    numel,
                }))
            }
            _ => Err(self.err("persistent id is not a torch storage")),
        }
    }

    fn reduce(&self, f: Value, args: Value) -> Result<Value, TorchError> {
        let Value::Global(module, name) = &f else {
            return Err(self.err(format!("REDUCE of a {}", f.kind())));
        };
        let Value::Tuple(args) = args else {
            return Err(self.err(format!("REDUCE with {} arguments", args.kind())));
        };
        match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") if args.is_empty() => Ok(Value::Dict(vec![])),
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
                let (Some(Value::Storage(s)), Some(Value::Int(off)), Some(shape), Some(stride)) =
                    (args.first(), args.get(1), args.get(2), args.get(3))
                else {
                    return Err(self.err(format!("{name} with unexpected arguments")));
                };
                let dims = |v: &Value, what: &str| -> Result<Vec<usize>, TorchError> {
                    let Value::Tuple(t) = v else {
                        return Err(self.err(format!("tensor {what} is a {}", v.kind())));
                    };
                    t.iter()
                        .map(|d| match d {
                            Value::Int(i) => usize::try_from(*i).ok(),
                            _ => None,
                        })
                        .collect::<Option<Vec<usize>>>()
                        .ok_or_else(|| self.err(format!("tensor {what} is not non-negative ints")))
                };
                let (shape, stride) = (dims(shape, "size")?, dims(stride, "stride")?);
                if shape.len() != stride.len() {
                    return Err(self.err("tensor size and stride differ in length"));
                }
                Ok(Value::Tensor(TensorRef {
                    storage: s.clone(),
                    offset: usize::try_from(*off)
                        .map_err(|_| self.err(format!("storage offset {off}")))?,
                    shape,
                    stride,
                }))
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                match args.first() {
                    Some(t @ Value::Tensor(_)) => Ok(t.clone()),
                    _ => Err(self.err(format!("{name} of no tensor"))),
                }
            }
            _ => Err(self.err(format!("unsupported callable {module}.{name}"))),
        }
    }
}
