"""No code in apps/ or config/ reaches into a private attribute of an object it does not own.

A private attribute (`obj._name`, or `getattr(obj, "_name")`/`setattr`/`hasattr`/`delattr` with
that name as a literal) of a Django, DRF or redis-py object is not part of their API: the next
upgrade can change it silently. What is allowed:

- the object is our own: `self`, `cls`, a class or function the module defines, or a module of
  our own packages (`apps`, `config`) it imports: our private helpers are our business. Only the
  object the attribute is read from counts: `self.client._sock` reaches into `client`;
- dunders (`__class__`, `__name__`, ...): Python's protocol, not a library's internals; but not
  `__dict__`, whose writes bypass the descriptors (cached properties, relations) a library
  keeps there;
- documented APIs that happen to start with an underscore: Django's `_meta` (model metadata),
  `_default_manager` and `_base_manager` (managers docs), and named tuples' `_asdict`,
  `_replace`, `_make`, `_fields`;
- any line that ends with `# justified: <why>`.

The check parses each file (`ast`), so strings and comments do not count. What it cannot see: a
private attribute a subclass inherits and reads through `self` (`self._x` is taken as ours).
"""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("apps", "config")
OWN_PACKAGES = ("apps", "config")
OWN_NAMES = frozenset({"self", "cls"})
DOCUMENTED = frozenset(
    {"_meta", "_default_manager", "_base_manager", "_asdict", "_replace", "_make", "_fields"}
)
JUSTIFIED = re.compile(r"#\s*justified:\s*\S.*$")
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def _private(name: str) -> bool:
    return (
        name.startswith("_")
        and not (name.startswith("__") and name.endswith("__") and name != "__dict__")
        and name not in DOCUMENTED
    )


def _is_own_module(name: str) -> bool:
    if name.split(".")[0] not in OWN_PACKAGES:
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _own_names(tree: ast.Module) -> set[str]:
    """Names of the classes and functions this module defines at the top level, and of the
    modules of our own packages it imports."""
    names = set(OWN_NAMES)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(
                alias.asname or alias.name
                for alias in node.names
                if _is_own_module(f"{node.module}.{alias.name}")
            )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_own_module(alias.name):
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _owned(node: ast.expr, own: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in own


def private_accesses(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of every private access in `source` that is neither allowed nor
    justified."""
    tree = ast.parse(source)
    own = _own_names(tree)
    lines = source.splitlines()
    found: list[tuple[int, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not _owned(node.value, own):
                found.append((node.lineno, node.attr, node.end_lineno or node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTRIBUTE_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and not _owned(node.args[0], own)
        ):
            found.append((node.lineno, node.args[1].value, node.end_lineno or node.lineno))
    return sorted(
        (line, name)
        for line, name, end in found
        if not any(JUSTIFIED.search(lines[n - 1]) for n in range(line, end + 1))
    )


def _python_files() -> list[Path]:
    return sorted(
        path
        for folder in SCANNED
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_private_attribute_of_another_object_is_touched():
    offences = [
        f"{path.relative_to(ROOT)}:{line}: .{name}"
        for path in _python_files()
        for line, name in private_accesses(path.read_text())
    ]
    assert offences == [], "\n".join(offences)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("request._request.user", [(1, "_request")]),
        ("order._prefetched_objects_cache = {}", [(1, "_prefetched_objects_cache")]),
        ("conn._parser.on_invalidate = handler", [(1, "_parser")]),
        ("x = getattr(request, '_request', request)", [(1, "_request")]),
        ("a.b._c", [(1, "_c")]),
        ("super()._get_response_bodies()", [(1, "_get_response_bodies")]),
        ("point._asdict()", []),
        ("Model._base_manager.filter()", []),
        ("self._cache", []),
        ("cls._registry", []),
        ("self.client._sock", [(1, "_sock")]),  # our own object's library object: private
        ("Product._meta.get_field('name')", []),
        ("obj.__class__.__name__", []),
        ("obj.__dict__.update(saved.__dict__)", [(1, "__dict__"), (1, "__dict__")]),
        ("owner.__dict__.pop('shop', None)", [(1, "__dict__")]),
        ("from apps.catalog import cache\ncache._bump('x')", []),
        ("from apps.catalog.models import Product\nProduct._state", [(2, "_state")]),
        ("def _helper(): ...\n_helper.cache_clear()", []),
        ("class Foo: ...\nFoo._bar", []),
        ("import redis\nredis._x", [(2, "_x")]),
        ("request._request  # justified: a reason", []),
        ("request._request  # justified:", [(1, "_request")]),
        ("text = 'obj._private'  # in a string", []),
    ],
)
def test_the_pattern(source, expected):
    assert private_accesses(source) == expected
