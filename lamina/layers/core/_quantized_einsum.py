"""How Keras's int8 EinsumDense lines up the input and kernel scales with the
output: which axes each scale reduces, and how it is transposed, expanded and
squeezed to broadcast against the einsum's result."""

import string


def einsum_info(layer) -> dict:
    """`analyze_einsum` of the layer's equation, computed once per layer."""
    info = layer.__dict__.get("_quantization_info")
    if info is None:
        info = analyze_einsum(layer.equation, layer.input_spec.ndim)
        layer.__dict__["_quantization_info"] = info
    return info


def scale_to_output(scale, info, which):
    """Lay a keepdims scale of the inputs or kernel out along the output's axes."""
    transpose, expand, squeeze = (info[f"{which}_{k}"] for k in ("t", "e", "s"))
    if transpose:
        scale = scale.permute(*transpose)
    if expand:
        ndim = scale.ndim + len(expand)
        for axis in sorted(a % ndim for a in expand):
            scale = scale.unsqueeze(axis)
    if squeeze:
        scale = scale.squeeze(tuple(squeeze))
    return scale


def scale_to_kernel(scale, info):
    """Undo `scale_to_output` for the kernel's scale."""
    if info["kernel_s"]:
        for axis in sorted(info["kernel_s"]):
            scale = scale.unsqueeze(axis)
    if info["kernel_e"]:
        scale = scale.squeeze(tuple(info["kernel_e"]))
    transpose = info["kernel_t"]
    if transpose:
        inverse = sorted(range(len(transpose)), key=transpose.__getitem__)
        scale = scale.permute(*inverse)
    return scale


def analyze_einsum(equation, input_ndim) -> dict:
    """The axes Keras's int8 EinsumDense reduces, transposes, expands and
    squeezes to align input and kernel scales with the output."""
    from lamina.layers.core.einsum_dense import _parse_equation

    inp, ker, out, side = _parse_equation(equation)
    if side is not None:
        used = set(inp) | set(ker) | set(out)
        free = sorted(set(string.ascii_letters) - used)[: input_ndim - len(inp)]
        extra = "".join(free)
        inp, out = (
            (extra + inp, extra + out) if side == "left" else (inp + extra, out + extra)
        )
    reduced = {
        "input": [i for i, c in enumerate(inp) if c not in out],
        "kernel": [i for i, c in enumerate(ker) if c not in out],
    }
    specs = {"input": inp, "kernel": ker}
    expand = {w: [i for i, c in enumerate(out) if c not in specs[w]] for w in specs}
    transpose = {w: [specs[w].index(c) for c in out if c in specs[w]] for w in specs}
    squeeze = {"input": [], "kernel": []}
    # Keras pairs each reduced axis with the next expanded output position; when
    # none is left the axis is squeezed, and the position reused is the last
    # one taken (before any, the kernel's last letter's output position).
    position = out.find(ker[-1])
    for which in ("input", "kernel"):
        for axis in reduced[which]:
            if expand[which]:
                position = expand[which].pop(0)
            else:
                squeeze[which].append(axis)
            transpose[which].insert(position, axis)
    return {
        "input_reduced": reduced["input"],
        "kernel_reduced": reduced["kernel"],
        "input_t": transpose["input"],
        "kernel_t": transpose["kernel"],
        "input_e": expand["input"],
        "kernel_e": expand["kernel"],
        "input_s": squeeze["input"],
        "kernel_s": squeeze["kernel"],
        "grad_equation": f"{out},{ker}->{inp}",
    }
