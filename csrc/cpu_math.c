/* Scalar activation functions shared by the fused GEMM epilogue and the elementwise ops. */
#include <math.h>

#include "cpu_kernels.h"

/* Exact (erf) GELU, as nn.GELU() with approximate='none'. */
float sc_gelu_exact(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }

float sc_silu(float x) { return x / (1.0f + expf(-x)); }

/* transformers' QuickGELUActivation: x * sigmoid(1.702 x). */
float sc_quick_gelu(float x) { return x / (1.0f + expf(-1.702f * x)); }
