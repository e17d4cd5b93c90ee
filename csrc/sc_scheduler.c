/* DDPMWuerstchenScheduler in float32, written as the same sequence of separately rounded float ops
 * that diffusers' tensor expressions run on the CPU (left to right, no fusion). */
#include "sc_scheduler.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_ops.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* torch.cos on float32 CPU tensors is MKL's vmsCos (VML_HA), closed source and not reproducible
 * here; the correctly rounded cosine is within 1 ulp of it (see docs/rng.md). */
static float cos_f32(float x)
{
    return (float)cos((double)x);
}

/* tensor ** exponent: torch computes x**2 and x**3 as products (verified bit-exact); other
 * exponents go through a vectorised pow that is not correctly rounded, for which the correctly
 * rounded power is within an ulp or two. Only scaler != 1 gets here; the published configs use 1. */
static float pow_f32(float x, double e)
{
    if (e == 2.0)
        return x * x;
    if (e == 3.0)
        return x * x * x;
    return (float)pow((double)x, e);
}

/* cos((t + s) / (1 + s) * pi * 0.5) ** 2 before the division by init_ac; pi is applied as a float32
 * scalar, as torch converts Python scalars to the tensor's dtype. */
static float cos_schedule(float t, float s)
{
    float a = (t + s) / (1.0f + s);
    a = a * (float)3.14159265358979323846;
    a = a * 0.5f;
    float c = cos_f32(a);
    return c * c;
}

sc_status sc_ddpm_wuerstchen_init(sc_ddpm_wuerstchen *sch, double scaler, double s)
{
    memset(sch, 0, sizeof *sch);
    if (!isfinite(scaler) || !isfinite(s) || !isfinite((float)s))
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: scaler and s must be finite (got %g, %g)",
                            scaler, s);
    if (1.0f + (float)s == 0.0f)
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: s must not be -1");
    sch->scaler = scaler;
    sch->s = (float)s;
    sch->init_alpha_cumprod = cos_schedule(0.0f, sch->s); /* s/(1+s) == (0+s)/(1+s) exactly */
    return SC_OK;
}

void sc_ddpm_wuerstchen_free(sc_ddpm_wuerstchen *sch)
{
    free(sch->timesteps);
    sch->timesteps = NULL;
    sch->n_timesteps = 0;
}

static sc_status replace_timesteps(sc_ddpm_wuerstchen *sch, size_t n, float **buf)
{
    if (n > SIZE_MAX / sizeof(float))
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: %zu timesteps is too many", n);
    *buf = malloc((n ? n : 1) * sizeof(float));
    if (!*buf)
        return sc_set_error(SC_ERR_NOMEM, "DDPMWuerstchenScheduler: out of memory for %zu timesteps", n);
    free(sch->timesteps);
    sch->timesteps = *buf;
    sch->n_timesteps = n;
    return SC_OK;
}

sc_status sc_ddpm_wuerstchen_set_timesteps(sc_ddpm_wuerstchen *sch, size_t num_inference_steps)
{
    if (num_inference_steps == SIZE_MAX)
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: too many inference steps");
    size_t n = num_inference_steps + 1;
    float *ts = NULL;
    SC_TRY(replace_timesteps(sch, n, &ts));
    if (n == 1) {
        ts[0] = 1.0f; /* linspace with one point is its start */
        return SC_OK;
    }
    /* torch's CPU linspace kernel: the first half counts up from the start (its AVX2/AVX-512 build
     * fuses start + step*i into one FMA), the second half counts back from the end. */
    const float start = 1.0f, end = 0.0f;
    const float step = (end - start) / (float)(n - 1);
    size_t halfway = n / 2;
    for (size_t i = 0; i < n; i++)
        ts[i] = i < halfway ? fmaf(step, (float)i, start) : end - step * (float)(n - i - 1);
    return SC_OK;
}

sc_status sc_ddpm_wuerstchen_set_custom_timesteps(sc_ddpm_wuerstchen *sch, const float *timesteps, size_t n)
{
    float *ts = NULL;
    SC_TRY(replace_timesteps(sch, n, &ts));
    if (n)
        memcpy(ts, timesteps, n * sizeof(float));
    return SC_OK;
}

float sc_ddpm_wuerstchen_alpha_cumprod(const sc_ddpm_wuerstchen *sch, float t)
{
    if (sch->scaler > 1.0)
        t = 1.0f - pow_f32(1.0f - t, sch->scaler);
    else if (sch->scaler < 1.0)
        t = pow_f32(t, sch->scaler);
    float ac = cos_schedule(t, sch->s) / sch->init_alpha_cumprod;
    ac = ac < 0.0001f ? 0.0001f : ac; /* clamp(0.0001, 0.9999): max first, then min */
    return ac > 0.9999f ? 0.9999f : ac;
}

sc_status sc_ddpm_wuerstchen_previous_timestep(const sc_ddpm_wuerstchen *sch, float t, float *prev_t)
{
    if (!isfinite(t))
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: timestep must be finite, got %g", (double)t);
    if (sch->n_timesteps == 0)
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler: call set_timesteps first");
    size_t best = 0;
    float best_d = fabsf(sch->timesteps[0] - t);
    for (size_t k = 1; k < sch->n_timesteps; k++) {
        float d = fabsf(sch->timesteps[k] - t);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    if (best + 1 >= sch->n_timesteps)
        return sc_set_error(SC_ERR_VALUE,
                            "DDPMWuerstchenScheduler: timestep %g is nearest to the last timestep; there is no "
                            "step after it",
                            (double)t);
    *prev_t = sch->timesteps[best + 1];
    return SC_OK;
}

static sc_status check_batch(const char *what, size_t n_t, size_t batch, size_t per_item)
{
    if (n_t != 1 && n_t != batch)
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler.%s: %zu timesteps for a batch of %zu (need 1 or %zu)",
                            what, n_t, batch, batch);
    if (batch != 0 && per_item > SIZE_MAX / batch)
        return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler.%s: tensor size overflows", what);
    return SC_OK;
}

enum { PARALLEL_MIN_VALUES = 1 << 16 };

sc_status sc_ddpm_wuerstchen_step(const sc_ddpm_wuerstchen *sch, const float *t, size_t n_t, size_t batch,
                                  size_t per_item, const float *model_output, const float *sample,
                                  const float *noise, float *out)
{
    SC_TRY(check_batch("step", n_t, batch, per_item));
    if (batch == 0)
        return SC_OK;
    for (size_t i = 0; i < n_t; i++)
        if (!isfinite(t[i]))
            return sc_set_error(SC_ERR_VALUE, "DDPMWuerstchenScheduler.step: timesteps must be finite");
    float prev_t;
    SC_TRY(sc_ddpm_wuerstchen_previous_timestep(sch, t[0], &prev_t));
    const float ac_prev = sc_ddpm_wuerstchen_alpha_cumprod(sch, prev_t);
    const float keep_noise = prev_t != 0.0f ? 1.0f : 0.0f;
    for (size_t b = 0; b < batch; b++) {
        const float ac = sc_ddpm_wuerstchen_alpha_cumprod(sch, t[n_t == 1 ? 0 : b]);
        const float alpha = ac / ac_prev;
        const float mean_scale = sqrtf(1.0f / alpha);
        const float one_minus_alpha = 1.0f - alpha;
        const float eps_scale = sqrtf(1.0f - ac);
        const float sigma = sqrtf((one_minus_alpha * (1.0f - ac_prev)) / (1.0f - ac));
        const size_t off = b * per_item;
        const float *eps = model_output + off, *x = sample + off, *z = noise + off;
        float *y = out + off;
        long long n = (long long)per_item;
#pragma omp parallel for schedule(static) num_threads(sc_cpu_threads()) if (n >= PARALLEL_MIN_VALUES)
        for (long long i = 0; i < n; i++) {
            float mu = mean_scale * (x[i] - (one_minus_alpha * eps[i]) / eps_scale);
            y[i] = mu + (sigma * z[i]) * keep_noise;
        }
    }
    return SC_OK;
}

sc_status sc_ddpm_wuerstchen_add_noise(const sc_ddpm_wuerstchen *sch, const float *t, size_t n_t, size_t batch,
                                       size_t per_item, const float *x0, const float *noise, float *out)
{
    SC_TRY(check_batch("add_noise", n_t, batch, per_item));
    for (size_t b = 0; b < batch; b++) {
        const float ac = sc_ddpm_wuerstchen_alpha_cumprod(sch, t[n_t == 1 ? 0 : b]);
        const float signal_scale = sqrtf(ac), noise_scale = sqrtf(1.0f - ac);
        const size_t off = b * per_item;
        long long n = (long long)per_item;
#pragma omp parallel for schedule(static) num_threads(sc_cpu_threads()) if (n >= PARALLEL_MIN_VALUES)
        for (long long i = 0; i < n; i++)
            out[off + i] = signal_scale * x0[off + i] + noise_scale * noise[off + i];
    }
    return SC_OK;
}
