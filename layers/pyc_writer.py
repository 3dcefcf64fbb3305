"""Worker run as a script by ``layers.bytecode``: compile the files named on stdin.

It runs in a fresh interpreter per batch because marshal's output depends on
reference counts inside the compiling process (an interned name shared with an
earlier module is written as a back-reference); a fixed batch in a fresh process,
with PYTHONHASHSEED=0 for frozenset constants, gives the same bytes on every host.

stdin: JSON {"root": str, "location": str, "files": [[relative path,
strip_docstrings]], "sourceless": bool}; ``location`` is the directory the tree
will occupy at run time (/opt/python, /var/task).

Every .pyc is hash-based (PEP 552), so its header holds no timestamp. A
sourceless one is "unchecked" (there is no source to check); one written to
``__pycache__`` beside its source is "checked", so an edited source in an
unpacked package is recompiled rather than silently ignored; hashing our few
small files costs microseconds.
"""

import ast
import importlib.util
import json
import marshal
import sys
from pathlib import Path

UNCHECKED_HASH = (0b01).to_bytes(4, "little")
CHECKED_HASH = (0b11).to_bytes(4, "little")
DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class DocstringRemover(ast.NodeTransformer):
    """Drop docstrings like ``python -OO`` does, but keep asserts and __debug__.

    ``compile(optimize=2)`` would strip both; asserts are behaviour, docstrings
    are not (the libraries we ship support -OO, where __doc__ is None).
    """

    def generic_visit(self, node):
        super().generic_visit(node)
        if isinstance(node, DOCSTRING_OWNERS) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.copy_location(ast.Pass(), first)]
        return node


def compile_file(path: Path, filename: str, sourceless: bool, strip_docstrings: bool) -> None:
    """``filename`` becomes co_filename: the path the module will have at run time.

    With a source beside it the loader corrects co_filename to wherever the file
    really is; a sourceless .pyc keeps what is written here, and code such as
    pandas' ``find_stack_level`` compares it with ``pandas.__file__``.
    """
    source = path.read_bytes()
    tree = ast.parse(source, filename=filename)
    if strip_docstrings:
        tree = DocstringRemover().visit(tree)
    code = compile(tree, filename, "exec", dont_inherit=True)
    flags = UNCHECKED_HASH if sourceless else CHECKED_HASH
    payload = (
        importlib.util.MAGIC_NUMBER
        + flags
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )
    if sourceless:
        path.with_suffix(".pyc").write_bytes(payload)
        path.unlink()
    else:
        target = Path(importlib.util.cache_from_source(str(path)))
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(payload)


def main() -> None:
    job = json.load(sys.stdin)
    root = Path(job["root"])
    for relative, strip_docstrings in job["files"]:
        filename = f"{job['location'].rstrip('/')}/{relative}"
        compile_file(root / relative, filename, job["sourceless"], strip_docstrings)


if __name__ == "__main__":
    sys.exit(main())
