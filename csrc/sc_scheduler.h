/* diffusers' DDPMWuerstchenScheduler (spec/stage_b_c_unet.md §5), in float32 with the same
 * operation order and rounding as diffusers' CPU tensors. What is and is not bit-exact against
 * torch is listed in docs/rng.md. */
#ifndef SC_SCHEDULER_H
#define SC_SCHEDULER_H

#include <stddef.h>

#include "sc_status.h"

typedef struct {
    double scaler;            /* config "scaler" (a Python float in diffusers) */
    float s;                  /* config "s", kept as the float32 tensor diffusers keeps */
    float init_alpha_cumprod; /* cos(s/(1+s) * pi/2)^2 in float32 */
    float *timesteps;         /* owned; NULL until timesteps are set */
    size_t n_timesteps;
} sc_ddpm_wuerstchen;

/* Zeroed scheduler with config values; fails on non-finite values or s == -1. */
sc_status sc_ddpm_wuerstchen_init(sc_ddpm_wuerstchen *sch, double scaler, double s);
void sc_ddpm_wuerstchen_free(sc_ddpm_wuerstchen *sch);

/* timesteps = torch.linspace(1.0, 0.0, num_inference_steps + 1) in float32, as torch's CPU kernel
 * computes it. */
sc_status sc_ddpm_wuerstchen_set_timesteps(sc_ddpm_wuerstchen *sch, size_t num_inference_steps);

/* A caller-given schedule (diffusers' `timesteps=` argument), copied. */
sc_status sc_ddpm_wuerstchen_set_custom_timesteps(sc_ddpm_wuerstchen *sch, const float *timesteps, size_t n);

/* _alpha_cumprod(t) for one float32 t. */
float sc_ddpm_wuerstchen_alpha_cumprod(const sc_ddpm_wuerstchen *sch, float t);

/* The timestep after the one nearest to t (ties: the first). Fails if t is not finite, no
 * timesteps are set, or t is nearest to the last one. */
sc_status sc_ddpm_wuerstchen_previous_timestep(const sc_ddpm_wuerstchen *sch, float t, float *prev_t);

/* One denoising step for a (batch, per_item) tensor. `t` holds n_t = 1 or batch timesteps (the model
 * dtype's value of the ratio, as the pipelines pass it); the previous timestep follows t[0], as in
 * diffusers. `noise` is the step's standard normal draw (drawn even when it is multiplied by 0).
 * out may alias sample. */
sc_status sc_ddpm_wuerstchen_step(const sc_ddpm_wuerstchen *sch, const float *t, size_t n_t, size_t batch,
                                  size_t per_item, const float *model_output, const float *sample,
                                  const float *noise, float *out);

/* add_noise: sqrt(ac(t)) * x0 + sqrt(1 - ac(t)) * noise, with n_t = 1 or batch timesteps. out may
 * alias x0 or noise. */
sc_status sc_ddpm_wuerstchen_add_noise(const sc_ddpm_wuerstchen *sch, const float *t, size_t n_t, size_t batch,
                                       size_t per_item, const float *x0, const float *noise, float *out);

#endif
