"""The debiased Sinkhorn divergence (Genevay et al. 2018; Feydy et al. 2019), in torch.

    S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β),  cost c(x, y) = ‖x − y‖²,

computed with symmetric log-domain Sinkhorn updates and ε-scaling (ε annealed from the
squared diameter of the data down to blur²), as geomloss does. Note the cost: geomloss's
p = 2 cost is ½‖x − y‖², so geomloss returns about W2²/2 where this returns about W2².
"""

from __future__ import annotations

import math

import torch

from ..interfaces import Divergence, Estimate
from . import checks

#: Row blocks of the log-sum-exp hold at most this many entries.
BLOCK_ENTRIES = 2**24


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖xᵢ − yⱼ‖², n×m, clamped at 0 against rounding."""
    return torch.addmm((y * y).sum(1), x, y.T, alpha=-2.0).add_((x * x).sum(1, keepdim=True)).clamp_(min=0)


def _softmin(eps: float, cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """−ε log Σⱼ exp(hⱼ − Cᵢⱼ/ε), by row blocks to bound the temporary memory."""
    out = torch.empty(cost.shape[0], dtype=cost.dtype, device=cost.device)
    rows = max(1, BLOCK_ENTRIES // max(1, cost.shape[1]))
    for s in range(0, cost.shape[0], rows):
        out[s : s + rows] = torch.logsumexp(torch.add(h, cost[s : s + rows], alpha=-1 / eps), dim=1)
    return out.mul_(-eps)


def epsilon_schedule(diameter: float, blur: float, scaling: float) -> list[float]:
    """ε from diameter² down to blur², divided by 1/scaling² at each step (geomloss's schedule for p = 2)."""
    steps = max(0, math.ceil(math.log(diameter / blur) / -math.log(scaling))) if diameter > blur else 0
    return [diameter**2] + [(diameter * scaling**k) ** 2 for k in range(1, steps)] + [blur**2]


def sinkhorn_divergence(x: torch.Tensor, y: torch.Tensor, *, blur: float = 0.05, scaling: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(S_ε, f, g): the divergence with cost ‖x − y‖² and ε = blur², and its influence functions.

    f = f_ba − f_aa on the x samples and g = g_ab − g_bb on the y samples: S_ε = mean f + mean g,
    and S_ε's first-order change when a sample moves. `blur` is in the units of x and y.
    """
    lo, hi = torch.minimum(x.min(0).values, y.min(0).values), torch.maximum(x.max(0).values, y.max(0).values)
    diameter = float((hi - lo).norm())
    if diameter == 0:  # every point is one point: S_ε = 0, and the ε schedule would start at ε = 0
        return x.new_zeros(()), x.new_zeros(x.shape[0]), y.new_zeros(y.shape[0])
    a_log = torch.full((x.shape[0],), -math.log(x.shape[0]), dtype=x.dtype, device=x.device)
    b_log = torch.full((y.shape[0],), -math.log(y.shape[0]), dtype=y.dtype, device=y.device)
    c_xy, c_xx, c_yy = squared_distances(x, y), squared_distances(x, x), squared_distances(y, y)
    c_yx = c_xy.T.contiguous()  # row blocks of a transposed view would be strided reads
    eps_list = epsilon_schedule(diameter, blur, scaling)
    eps = eps_list[0]
    f_ba, g_ab = _softmin(eps, c_xy, b_log), _softmin(eps, c_yx, a_log)
    f_aa, g_bb = _softmin(eps, c_xx, a_log), _softmin(eps, c_yy, b_log)
    for eps in eps_list:
        ft_ba, gt_ab = _softmin(eps, c_xy, b_log + g_ab / eps), _softmin(eps, c_yx, a_log + f_ba / eps)
        ft_aa, gt_bb = _softmin(eps, c_xx, a_log + f_aa / eps), _softmin(eps, c_yy, b_log + g_bb / eps)
        # Averaging with the previous potentials: the symmetric updates of Feydy et al.
        f_ba, g_ab, f_aa, g_bb = (f_ba + ft_ba) / 2, (g_ab + gt_ab) / 2, (f_aa + ft_aa) / 2, (g_bb + gt_bb) / 2
    eps = eps_list[-1]
    f_ba, g_ab = _softmin(eps, c_xy, b_log + g_ab / eps), _softmin(eps, c_yx, a_log + f_ba / eps)
    f_aa, g_bb = _softmin(eps, c_xx, a_log + f_aa / eps), _softmin(eps, c_yy, b_log + g_bb / eps)
    f, g = f_ba - f_aa, g_ab - g_bb
    return f.mean() + g.mean(), f, g


class WassersteinSinkhorn(Divergence):
    """W2² (squared!) approximated by the debiased Sinkhorn divergence S_ε with cost ‖x − y‖², ε = (blur·s)².

    `blur` is relative to the data's scale s, the root mean square of the per-feature standard
    deviations of the pooled samples (images in [0, 1] have s ≈ 0.25): S_ε is computed on
    (x − mean)/s and multiplied by s², so S(a·x, a·y) = a²·S(x, y) at every scale. A blur in
    the units of the data would not be: fixed at 0.05, it smoothed samples of scale 1e-6 into
    a value of exactly 0 in float32 (30% too low in float64), and it is negligible for samples
    of scale 1e6. `details` gives s
    (`"scale"`), the blur in data units and ε.
    S_ε → W2² of the empirical laws as blur → 0 and → MMD with kernel −‖x − y‖² as blur → ∞.
    Debiasing makes S_ε(α, α) = 0 exactly, so unlike W2² of empirical laws it has no n^(-1/d)
    floor at p = q; at p ≠ q it is biased downward by the entropic blur (about blur·s per
    feature) and upward by sampling like any OT estimate. S_ε ≥ 0 (Feydy et al. 2019, Thm 1).
    The standard error is the delta method's with the potentials as influence functions
    (Var f / n + Var g / m), which understates at p = q.
    Memory: four n×m float32 cost matrices (1.6 GB at n = m = 10,000).
    """

    quantity = "W2^2"
    bounds = (0.0, math.inf)

    def __init__(self, blur: float = 0.05, scaling: float = 0.5) -> None:
        self.blur = checks.number("blur", blur, "a positive number (a fraction of the data's scale)", lambda v: v > 0)
        self.scaling = checks.number("scaling", scaling, "a number strictly between 0 and 1 (the ε-annealing factor)", lambda v: 0 < v < 1)

    def _estimate(self, p: torch.Tensor, q: torch.Tensor) -> Estimate:
        dtype = p.dtype if p.dtype == torch.float64 else torch.float32
        x, y, scale = checks.standardise(p, q)
        value, f, g = sinkhorn_divergence(x.to(dtype), y.to(dtype), blur=self.blur, scaling=self.scaling)
        var = f.double().var() / f.numel() + g.double().var() / g.numel()
        # Back to data units S_ε scales by scale²: multiplied in turn, since scale**2 raises OverflowError and a
        # precomputed inf scale² would turn a value of 0 into NaN.
        return Estimate(float(value) * scale * scale, math.sqrt(float(var)) * scale * scale, min(p.shape[0], q.shape[0]), quantity=self.quantity,
                        details={"blur": self.blur, "scale": scale, "blur_in_data_units": self.blur * scale,
                                 "epsilon": self.blur * scale * self.blur * scale, "cost": "|x-y|^2"})
