"""Griffe extension: read lamina's docstring conventions as Google sections.

lamina's docstrings (see STYLE.md) write an `Example:` heading followed by
doctest lines at the same indentation, and document related arguments together
(`kernel_initializer, bias_initializer: ...`, a name list may wrap). The
Google parser wants an indented `Examples:` section and one name per item, so
this extension rewrites each docstring's text before it is parsed. Nothing in
lamina changes; doctests keep running on the original text.

It also documents Keras's alternative names (`swish = silu`,
`AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D`): Griffe skips
tuple assignments and hides attributes without a docstring, so each alias
becomes an attribute whose docstring names its target. And functions a
factory makes (`EfficientNetB0 = _variant("b0")` in the application modules),
which static analysis sees as plain attributes, are documented from the
function the factory returns (its signature and docstring, read at run time).
"""

import ast
import importlib
import inspect
import re

from griffe import (
    Attribute,
    Docstring,
    Extension,
    Function,
    Parameter,
    ParameterKind,
    Parameters,
)

_EXAMPLE_HEADING = re.compile(r"^Examples?:\s*$")
_SECTION_HEADING = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_NAMES = r"\*{0,2}\w+(?:\s*(?:,|/)\s*\*{0,2}\w+)*"
_GROUPED_ITEM = re.compile(rf"^(\s+)({_NAMES}):(.*)$")


def _indent_examples(lines):
    """Turns `Example:` + unindented doctest lines into an `Examples:` section."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not _EXAMPLE_HEADING.match(line):
            out.append(line)
            i += 1
            continue
        out.append("Examples:")
        i += 1
        # The block runs to the end of the docstring or to a blank line that
        # is followed by prose or another section (not by more doctest lines).
        while i < len(lines):
            current = lines[i]
            if not current.strip():
                following = next((x for x in lines[i + 1 :] if x.strip()), None)
                if following is None or not following.lstrip().startswith(">>>"):
                    break
                out.append("")
            elif current.startswith(" ") and not current.lstrip().startswith(">>>"):
                out.append(current)  # already indented (a continuation)
            else:
                out.append("    " + current)
            i += 1
    return out


def _indent_of(line):
    return len(line) - len(line.lstrip())


def _split_grouped_args(lines):
    """Joins wrapped name lists and gives each name of a group its own item."""
    out = []
    item_indent = None  # the indentation of `Args:` items while inside one
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _SECTION_HEADING.match(line):
            is_args = line.strip() in ("Args:", "Arguments:", "Parameters:")
            item_indent = -1 if is_args else None
            out.append(line)
            continue
        if item_indent is None or not line.strip():
            out.append(line)
            continue
        if _indent_of(line) == 0:
            item_indent = None
            out.append(line)
            continue
        if item_indent == -1:
            item_indent = _indent_of(line)
        if _indent_of(line) != item_indent:
            out.append(line)
            continue
        # 1. A name list wrapped over several lines: join it up to its colon.
        if ":" not in line and line.endswith(","):
            parts = [line.strip()]
            while i < len(lines) and ":" not in lines[i]:
                parts.append(lines[i].strip())
                i += 1
            if i < len(lines):
                parts.append(lines[i].strip())
                i += 1
            line = " " * item_indent + " ".join(parts)
        # 2. A group of names: one item per name, each with the description.
        group = _GROUPED_ITEM.match(line)
        if group is None or not re.search(r"[,/]", group[2]):
            out.append(line)
            continue
        continuation = []
        while (
            i < len(lines) and lines[i].strip() and _indent_of(lines[i]) > item_indent
        ):
            continuation.append(lines[i])
            i += 1
        for name in re.split(r"\s*[,/]\s*", group[2]):
            out.append(f"{group[1]}{name}:{group[3]}")
            out.extend(continuation)
    return out


def _alias_docstring(target, parent):
    return Docstring(f"Alias of `{target}`.", parent=parent)


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: ParameterKind.positional_only,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: ParameterKind.positional_or_keyword,
    inspect.Parameter.VAR_POSITIONAL: ParameterKind.var_positional,
    inspect.Parameter.KEYWORD_ONLY: ParameterKind.keyword_only,
    inspect.Parameter.VAR_KEYWORD: ParameterKind.var_keyword,
}


def _made_function(name, runtime, statement):
    """A Griffe function for `runtime`, made by a factory call at `statement`."""
    parameters = Parameters(
        *(
            Parameter(
                p.name,
                kind=_KINDS[p.kind],
                default=None if p.default is p.empty else repr(p.default),
            )
            for p in inspect.signature(runtime).parameters.values()
        )
    )
    function = Function(
        name,
        parameters=parameters,
        lineno=statement.lineno,
        endlineno=statement.end_lineno,
    )
    function.docstring = Docstring(inspect.getdoc(runtime) or "", parent=function)
    return function


def _is_factory_call(statement):
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "_variant"
    )


class LaminaDocstrings(Extension):
    """Rewrites lamina's docstrings into the Google layout before parsing."""

    def on_module_members(self, *, node, mod, **kwargs):
        # `EfficientNetB0 = _variant("b0")`: document the function made.
        body = getattr(node, "body", ())
        if any(_is_factory_call(statement) for statement in body):
            module = importlib.import_module(mod.path)
            for statement in filter(_is_factory_call, body):
                name = statement.targets[0].id
                runtime = getattr(module, name, None)
                if callable(runtime):
                    mod.set_member(name, _made_function(name, runtime, statement))
        # `A, B = X, Y` at module level, where X and Y are plain names.
        for statement in getattr(node, "body", ()):
            if not (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Tuple)
                and isinstance(statement.value, ast.Tuple)
            ):
                continue
            pairs = zip(statement.targets[0].elts, statement.value.elts)
            for target, value in pairs:
                if not (isinstance(target, ast.Name) and isinstance(value, ast.Name)):
                    continue
                if target.id in mod.members:
                    continue
                attribute = Attribute(
                    target.id,
                    value=value.id,
                    lineno=statement.lineno,
                    endlineno=statement.end_lineno,
                )
                attribute.labels.add("module-attribute")
                attribute.docstring = _alias_docstring(value.id, attribute)
                mod.set_member(target.id, attribute)

    def on_object(self, *, obj, **kwargs):
        # `swish = silu`: a module attribute naming another public object.
        if obj.is_attribute and obj.docstring is None and obj.parent.is_module:
            value = str(obj.value) if obj.value is not None else ""
            if value.isidentifier() and (
                value in obj.parent.members or value in obj.parent.imports
            ):
                obj.docstring = _alias_docstring(value, obj)
        docstring = obj.docstring
        if docstring is None or obj.is_alias:
            return
        lines = docstring.value.split("\n")
        lines = _split_grouped_args(_indent_examples(lines))
        docstring.value = "\n".join(lines)
