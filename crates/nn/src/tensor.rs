//! Tensors and trainable parameters.

/// A dense row-major `f32` tensor. Images are NCHW.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first; their product is `data.len()`.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor over `data`; panics if the element count does not match `shape` (programming
    /// error, not data error).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor shape {shape:?} does not match {} values",
            data.len()
        );
        Tensor { shape, data }
    }
    /// A tensor of `shape` filled with zeros.
    pub fn zeros(shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![0.0; n],
        }
    }
    /// This tensor made `shape`, its values to be overwritten: the buffer is kept as it is
    /// (no zeroing) when the element count is unchanged, else resized with zeros. For
    /// inference outputs reused from call to call; the caller must write every value.
    pub fn reuse_as(&mut self, shape: Vec<usize>) -> &mut [f32] {
        let n = shape.iter().product();
        if self.data.len() != n {
            self.data.clear();
            self.data.resize(n, 0.0);
        }
        self.shape = shape;
        &mut self.data
    }
    /// Number of samples (first dimension).
    pub fn batch(&self) -> usize {
        self.shape[0]
    }
    /// Values per sample.
    pub fn per_sample(&self) -> usize {
        self.shape[1..].iter().product()
    }
    /// Number of values (all dimensions).
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// No value (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A named parameter (or buffer, such as batch-norm running statistics) with its gradient.
#[derive(Debug, Clone)]
pub struct Param {
    /// Stable name `"<layer>.<param>"`, used by model files and `--freeze`.
    pub name: String,
    /// Dimensions in PyTorch's layout for the layer (conv weight `[out, in, k, k]`).
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub value: Vec<f32>,
    /// Accumulated gradient (empty for buffers).
    pub grad: Vec<f32>,
    /// `false` for buffers (running statistics): saved, never optimised.
    pub trainable: bool,
    /// Frozen parameters keep their value during training (transfer learning).
    pub frozen: bool,
}

impl Param {
    /// A trainable parameter with a zero gradient; panics if `value` does not have `shape`'s
    /// element count.
    pub fn new(name: String, shape: Vec<usize>, value: Vec<f32>) -> Param {
        let n = value.len();
        assert_eq!(shape.iter().product::<usize>(), n);
        Param {
            name,
            shape,
            value,
            grad: vec![0.0; n],
            trainable: true,
            frozen: false,
        }
    }
    /// A buffer: saved with the model, never given a gradient or optimised (batch norm's
    /// running statistics).
    pub fn buffer(name: String, shape: Vec<usize>, value: Vec<f32>) -> Param {
        Param {
            name,
            shape,
            value,
            grad: Vec::new(),
            trainable: false,
            frozen: false,
        }
    }
    /// Sets the accumulated gradient to zero (nothing for a buffer).
    pub fn zero_grad(&mut self) {
        self.grad.iter_mut().for_each(|g| *g = 0.0);
    }
}
