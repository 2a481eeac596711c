"""SSIM (Wang et al. 2004) and MS-SSIM (Wang et al. 2003), batched and differentiable.

Conventions follow the references users compare against: an 11×11 Gaussian window with
σ = 1.5 (scikit-image's `gaussian_weights=True, sigma=1.5`, truncated at 3.5σ), K1 = 0.01,
K2 = 0.03, 'valid' filtering (the border of 5 pixels that scikit-image crops away is never
computed), the mean over pixels and then over channels. MS-SSIM follows pytorch_msssim:
five scales, 2×2 average pooling, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), and
negative contrast-structure terms clipped at 0.

Two implementations compute the same numbers. On the CPU (float32 and float64), fused
kernels compiled with numba stream each image plane row by row: the five Gaussian-filtered
maps (μx, μy, E[x²], E[y²], E[xy]) of one output row live in a few cache-resident buffers and
are reduced to the SSIM and contrast-structure sums at once, so no full-size intermediate is
ever written, except that when a gradient will be asked for, the five filtered maps are
kept for the backward pass. The backward pass is closed-form: the gradient of a mean of
per-pixel SSIM values is the adjoint Gaussian filter applied to four per-pixel coefficient
maps, combined with x and y, computed by a second fused kernel. Planes are split into row blocks run on
`torch.get_num_threads()` threads (the kernels release the GIL). On other devices (CUDA)
separable convolutions in torch with autograd are used.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

WIN_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

# Output rows per task of the CPU kernels: enough work per task to amortise dispatch, few
# enough that a single plane still keeps every thread busy.
_ROWS_PER_TASK = 64
# Below this many pixels per call the kernels run on the calling thread: handing out tasks
# costs more than the second thread saves (measured on 1×3×128² and smaller).
_PARALLEL_PIXELS = 1 << 17
# Reassociation lets LLVM vectorise the sums over rows; no NaN/Inf assumptions are made.
_FASTMATH = {"reassoc", "contract", "nsz"}


@functools.lru_cache(maxsize=32)
def _window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(device=device, dtype=dtype)


def _filter(maps: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter over the last two dimensions of B×1×H×W."""
    k = win.numel()
    maps = F.conv2d(maps, win.view(1, 1, k, 1))
    return F.conv2d(maps, win.view(1, 1, 1, k))


def _components_torch(x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The device-agnostic path: per-plane mean SSIM and contrast-structure, each N×C."""
    n, c, h, w = x.shape
    k = win.numel()
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=2).reshape(n * c * 5, 1, h, w)
    mu_x, mu_y, xx, yy, xy = _filter(stack, win).reshape(n, c, 5, h - k + 1, w - k + 1).unbind(2)
    mu_xy = mu_x * mu_y
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    cs_map = (2 * (xy - mu_xy) + c2) / ((xx - mu_xx) + (yy - mu_yy) + c2)
    ssim_map = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


@numba.njit(nogil=True, fastmath=_FASTMATH, cache=True)
def _filtered_row(x: np.ndarray, y: np.ndarray, g: np.ndarray, i: int, v: np.ndarray, h: np.ndarray) -> None:
    """h[0..4] ← valid output row i of G∗x, G∗y, G∗x², G∗y², G∗xy (v is a 5×W scratch buffer)."""
    k = g.shape[0]
    wo = h.shape[1]
    v[:] = 0
    for t in range(k):
        gt = g[t]
        xr = x[i + t]
        yr = y[i + t]
        for j in range(xr.shape[0]):
            gx = gt * xr[j]
            gy = gt * yr[j]
            v[0, j] += gx
            v[1, j] += gy
            v[2, j] += gx * xr[j]
            v[3, j] += gy * yr[j]
            v[4, j] += gx * yr[j]
    h[:] = 0
    for t in range(k):
        gt = g[t]
        for m in range(5):
            for j in range(wo):
                h[m, j] += gt * v[m, j + t]


@numba.njit(nogil=True, fastmath=_FASTMATH, cache=True)
def _forward_rows(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, c1: float, c2: float, r0: int, r1: int, maps: np.ndarray,
) -> tuple[float, float]:
    """Sums of the SSIM and contrast-structure maps over valid rows [r0, r1) of one plane.

    When `maps` has rows (valid rows × 5 × valid columns), each row's five filtered maps are
    kept there for the backward pass; pass a 0×5×0 array when no gradient is needed.
    """
    k = g.shape[0]
    wo = x.shape[1] - k + 1
    keep = maps.shape[0] > 0
    v = np.empty((5, x.shape[1]), dtype=x.dtype)
    scratch = np.empty((5, wo), dtype=x.dtype)
    two = x.dtype.type(2)  # a bare literal would promote float32 arithmetic to float64
    s_sum = 0.0
    cs_sum = 0.0
    for i in range(r0, r1):
        h = maps[i] if keep else scratch
        _filtered_row(x, y, g, i, v, h)
        for j in range(wo):
            mxy = h[0, j] * h[1, j]
            mxx = h[0, j] * h[0, j]
            myy = h[1, j] * h[1, j]
            cs = (two * (h[4, j] - mxy) + c2) / ((h[2, j] - mxx) + (h[3, j] - myy) + c2)
            s_sum += (two * mxy + c1) / (mxx + myy + c1) * cs
            cs_sum += cs
    return s_sum, cs_sum


@numba.njit(nogil=True, fastmath=_FASTMATH, cache=True)
def _backward_rows(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, maps: np.ndarray, c1: float, c2: float, ws: float, wc: float,
    dx: np.ndarray, dy: np.ndarray, r0: int, r1: int,
) -> None:
    """Rows [r0, r1) of ∂f/∂x and ∂f/∂y for f = ws·ΣSSIM + wc·ΣCS over one plane's valid pixels.

    With a, b, p, q, r the filtered x, y, x², y², xy at a valid pixel (`maps`, kept by the
    forward pass), L = A1/B1 and CS = A2/B2 (A1 = 2ab + c1, B1 = a² + b² + c1,
    A2 = 2(r − ab) + c2, B2 = p + q − a² − b² + c2):
    ∂L/∂a = 2(b − L·a)/B1, ∂CS/∂a = 2(a·CS − b)/B2, ∂CS/∂p = ∂CS/∂q = −CS/B2, ∂CS/∂r = 2/B2
    (a ↔ b symmetric). The chain rule through a = G∗x, p = G∗x², r = G∗xy gives
    ∂f/∂x = Gᵀ∗c_a + 2x·Gᵀ∗c_pq + y·Gᵀ∗c_r, and likewise for y, where Gᵀ is the 'full'
    filter adjoint to the 'valid' one. A gradient passed as a 0×0 array is not computed
    (nor its c_a or c_b map filtered).
    """
    k = g.shape[0]
    ho = maps.shape[0]
    w = x.shape[1]
    wo = w - k + 1
    want = (dx.shape[0] > 0, dy.shape[0] > 0, True, True)
    # Valid rows i feed full rows i .. i + k − 1.
    i0 = max(r0 - k + 1, 0)
    i1 = min(r1, ho)
    one = x.dtype.type(1)
    two = x.dtype.type(2)
    coef = np.empty((4, wo), dtype=x.dtype)
    # Coefficient maps of rows i0..i1, already through the horizontal adjoint filter.
    rows = np.zeros((4, max(i1 - i0, 0), w), dtype=x.dtype)
    for i in range(i0, i1):
        h = maps[i]
        for j in range(wo):
            a = h[0, j]
            b = h[1, j]
            inv_b1 = one / (a * a + b * b + c1)
            inv_b2 = one / ((h[2, j] - a * a) + (h[3, j] - b * b) + c2)
            lum = (two * a * b + c1) * inv_b1
            cs = (two * (h[4, j] - a * b) + c2) * inv_b2
            sl = two * ws * cs * inv_b1  # ws·CS·∂L/∂a = sl·(b − L·a)
            u = (ws * lum + wc) * inv_b2  # (ws·L + wc)·∂CS/∂a = 2u·(a·CS − b)
            coef[0, j] = sl * (b - lum * a) + two * u * (a * cs - b)
            coef[1, j] = sl * (a - lum * b) + two * u * (b * cs - a)
            coef[2, j] = -u * cs
            coef[3, j] = two * u
        for t in range(k):
            gt = g[t]
            for m in range(4):
                if want[m]:
                    for j in range(wo):
                        rows[m, i - i0, j + t] += gt * coef[m, j]
    acc = np.empty((4, w), dtype=x.dtype)
    for r in range(r0, r1):
        acc[:] = 0
        for t in range(k):
            i = r - t
            if i0 <= i < i1:
                gt = g[t]
                for m in range(4):
                    if want[m]:
                        for j in range(w):
                            acc[m, j] += gt * rows[m, i - i0, j]
        if want[0]:
            for j in range(w):
                dx[r, j] = acc[0, j] + two * x[r, j] * acc[2, j] + y[r, j] * acc[3, j]
        if want[1]:
            for j in range(w):
                dy[r, j] = acc[1, j] + two * y[r, j] * acc[2, j] + x[r, j] * acc[3, j]


_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (process id, threads, pool)


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """One pool kept across calls (starting threads cost more than a small image's SSIM), made
    anew when the thread count changes or in a forked child, where the parent's threads are gone."""
    global _pool
    if _pool is None or _pool[:2] != (os.getpid(), threads):
        if _pool is not None and _pool[0] == os.getpid():
            _pool[2].shutdown(wait=False)
        _pool = (os.getpid(), threads, ThreadPoolExecutor(threads, thread_name_prefix="rdpkit-ssim"))
    return _pool[2]


def _run(job: Callable[..., object], tasks: Sequence[tuple], pixels: int) -> list:
    """job(*task) for every task, on up to torch.get_num_threads() threads, results in order."""
    threads = min(torch.get_num_threads(), len(tasks))
    if threads <= 1 or pixels < _PARALLEL_PIXELS:
        return [job(*t) for t in tasks]
    return list(_thread_pool(threads).map(lambda t: job(*t), tasks))


def _planes(t: torch.Tensor) -> np.ndarray:
    """N×C×H×W → (N·C)×H×W numpy view (a copy only if `t` is not contiguous)."""
    return t.detach().contiguous().reshape(-1, *t.shape[-2:]).numpy()


def _row_blocks(rows: int) -> list[tuple[int, int]]:
    return [(r, min(r + _ROWS_PER_TASK, rows)) for r in range(0, rows, _ROWS_PER_TASK)]


class _CPUComponents(torch.autograd.Function):
    """Per-plane mean SSIM and contrast-structure (N×C each) by the fused CPU kernels."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, win: torch.Tensor, c1: float, c2: float) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        n, c, h, w = x.shape
        k = win.numel()
        xs, ys = _planes(x), _planes(y)
        g = win.numpy()
        # Scalars in the arrays' precision keep float32 kernels in float32 vector code.
        c1n, c2n = xs.dtype.type(c1), xs.dtype.type(c2)
        ho, wo = h - k + 1, w - k + 1
        # With a gradient to come, the filtered maps are kept (5 valid-size maps a plane)
        # rather than filtered again in the backward pass, which then costs about half.
        keep = any(ctx.needs_input_grad[:2])
        maps = np.empty((n * c, ho, 5, wo) if keep else (n * c, 0, 5, 0), dtype=xs.dtype)
        tasks = [(p, r0, r1) for p in range(n * c) for r0, r1 in _row_blocks(ho)]
        sums = _run(lambda p, r0, r1: _forward_rows(xs[p], ys[p], g, c1n, c2n, r0, r1, maps[p]), tasks, xs.size)
        totals = np.zeros((n * c, 2))
        for (p, _, _), s in zip(tasks, sums):
            totals[p] += s
        totals /= ho * wo
        ctx.save_for_backward(x, y, win)
        ctx.constants = (c1, c2)
        ctx.maps = maps
        out = torch.from_numpy(totals).to(x.dtype).reshape(n, c, 2)
        return out[..., 0], out[..., 1]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s: torch.Tensor, grad_cs: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, y, win = ctx.saved_tensors
        c1, c2 = ctx.constants
        n, c, h, w = x.shape
        k = win.numel()
        xs, ys = _planes(x), _planes(y)
        g = win.numpy()
        # The outputs are means: each valid pixel carries 1/count of the incoming gradient.
        count = (h - k + 1) * (w - k + 1)
        ws = (grad_s.double().reshape(-1) / count).numpy().astype(xs.dtype)
        wc = (grad_cs.double().reshape(-1) / count).numpy().astype(xs.dtype)
        c1n, c2n = xs.dtype.type(c1), xs.dtype.type(c2)
        maps = ctx.maps  # freed with the graph; kept for a backward with retain_graph=True
        none = np.empty((n * c, 0, 0), dtype=xs.dtype)
        dx = np.empty_like(xs) if ctx.needs_input_grad[0] else none
        dy = np.empty_like(ys) if ctx.needs_input_grad[1] else none
        tasks = [(p, r0, r1) for p in range(n * c) for r0, r1 in _row_blocks(h)]
        _run(lambda p, r0, r1: _backward_rows(xs[p], ys[p], g, maps[p], c1n, c2n, ws[p], wc[p], dx[p], dy[p], r0, r1), tasks, xs.size)
        grad_x = torch.from_numpy(dx).reshape(x.shape) if ctx.needs_input_grad[0] else None
        grad_y = torch.from_numpy(dy).reshape(y.shape) if ctx.needs_input_grad[1] else None
        return grad_x, grad_y, None, None, None


def ssim_components(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = WIN_SIZE, sigma: float = SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean SSIM and mean contrast-structure term, each N×C.

    Half-precision images are computed in float32 and the results cast back: in 16 bits the
    variance E[x²] − μx² is mostly rounding error.
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        s, cs = ssim_components(x.float(), y.float(), data_range, win_size, sigma)
        return s.to(x.dtype), cs.to(x.dtype)
    win = _window(win_size, sigma, x.device, x.dtype)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    if x.device.type == "cpu":
        return _CPUComponents.apply(x, y, win, c1, c2)
    return _components_torch(x, y, win, c1, c2)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image (N), channels averaged."""
    return ssim_components(x, y, data_range)[0].mean(dim=1)


def ms_ssim_min_size(win_size: int = WIN_SIZE, levels: int = len(MS_WEIGHTS)) -> int:
    """The smallest side MS-SSIM accepts: the window must fit at the coarsest scale."""
    return (win_size - 1) * 2 ** (levels - 1) + 1


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, weights: tuple[float, ...] = MS_WEIGHTS) -> torch.Tensor:
    """MS-SSIM per image (N), channels averaged."""
    w = torch.tensor(weights, dtype=x.dtype, device=x.device)
    terms = []
    for level in range(len(weights)):
        s, cs = ssim_components(x, y, data_range)
        if level < len(weights) - 1:
            terms.append(torch.relu(cs))
            pad = [x.shape[-2] % 2, x.shape[-1] % 2]
            x = F.avg_pool2d(x, 2, padding=pad)
            y = F.avg_pool2d(y, 2, padding=pad)
    terms.append(torch.relu(s))
    per_channel = torch.prod(torch.stack(terms, dim=0) ** w.view(-1, 1, 1), dim=0)
    return per_channel.mean(dim=1)
