"""A per-layer summary of a model, like torchinfo or Keras' ``summary()``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._checks import _describe, check_int
from .tables import Table

__all__ = ["summary", "Summary"]


@dataclass
class Summary:
    """What :func:`summary` returns: rows and totals; prints as a table.

    Attributes
    ----------
    rows : Table
        One dict per leaf module, in the order the forward pass ran it,
        with keys ``name, kind, output_shape, params, macs``.
    total_params, trainable_params, total_macs : int
    input_shape, output_shape : tuple of int
    """

    rows: Table
    total_params: int
    trainable_params: int
    total_macs: int
    input_shape: tuple
    output_shape: tuple = field(default=())

    def __str__(self) -> str:
        return (
            f"{self.rows}\n\n"
            f"input shape:      {self.input_shape}\n"
            f"output shape:     {self.output_shape}\n"
            f"total params:     {self.total_params:,}\n"
            f"trainable params: {self.trainable_params:,}\n"
            f"mult-adds:        {self.total_macs:,}"
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (
            self.rows._repr_html_()
            + f"<p>input {self.input_shape}, output {self.output_shape}; "
            f"{self.total_params:,} parameters "
            f"({self.trainable_params:,} trainable); "
            f"{self.total_macs:,} multiply-accumulates</p>"
        )


def _macs(module, inputs, output) -> int:
    """Multiply-accumulates of the weights for one call (bias adds excluded)."""
    from torch import nn

    if isinstance(module, nn.Conv2d):
        per_output = module.weight[0].numel()  # C_in/groups * kH * kW
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def summary(model, input_shape) -> Summary:
    """Run a zero input through ``model`` and tabulate every leaf layer.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        The shape of the input *including* the batch, e.g. ``(1, 3, 32, 32)``.

    Returns
    -------
    Summary
        Rows of ``name, kind, output_shape, params, macs`` (output shapes
        without the batch; MACs for the whole batch, as torchinfo counts
        them), and the totals.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 6 * 6, 10))
    >>> s = summary(net, (1, 1, 8, 8))
    >>> [r["params"] for r in s.rows]  # 3*3*1*4 + 4 and 144*10 + 10
    [40, 0, 1450]
    >>> s.total_macs  # 4*6*6 outputs * 9, plus 10 * 144
    2736
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {_describe(model)}")
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 2:
        raise ValueError(
            "`input_shape` must be a tuple with the batch first, such as "
            f"(1, 3, 32, 32), got {_describe(input_shape)}"
        )
    shape = tuple(
        check_int(f"input_shape[{i}]", d, 1) for i, d in enumerate(input_shape)
    )
    rows = []
    hooks = []
    names = {m: n for n, m in model.named_modules()}

    def record(module, inputs, output):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(
            {
                "name": names[module] or type(module).__name__,
                "kind": type(module).__name__,
                "output_shape": tuple(output.shape[1:]),
                "params": params,
                "macs": _macs(module, inputs, output),
            }
        )

    for module in model.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            param = next(model.parameters(), None)
            dtype = param.dtype if param is not None else torch.float32
            output = model(torch.zeros(shape, dtype=dtype))
    except RuntimeError as err:
        raise ValueError(
            f"`input_shape` {shape} does not fit the model: {err}"
        ) from err
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    macs = sum(r["macs"] for r in rows)
    table = Table(
        rows,
        columns=["name", "kind", "output_shape", "params", "macs"],
        footer={"name": "total", "params": total, "macs": macs},
        headers={"output_shape": "output shape", "macs": "mult-adds"},
    )
    return Summary(table, total, trainable, macs, shape, tuple(output.shape))
