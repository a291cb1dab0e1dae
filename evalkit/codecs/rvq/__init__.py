"""The in-house residual-vector-quantized neural codec (``--codec rvq``)."""
