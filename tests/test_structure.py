"""The package's structure stays as the README's layout section describes it:
no import cycle among its modules (imports at module level or inside
functions alike), and no Python module too long to read as one piece."""
import ast
import pathlib

import kmgmm

PACKAGE = pathlib.Path(kmgmm.__file__).parent
MAX_LINES = 600


def module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(name, path, known):
    """The package's modules that ``name`` imports, anywhere in its code.

    Importing ``a.b.c`` runs ``a.b`` first, so a package counts as imported
    too, except by its own modules (a package's ``__init__`` may hand on
    its modules' names); the root package (which only re-exports) does not.
    """
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = set()

    def add(target):
        parts = target.split(".")
        for i in range(2, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if (candidate in known and candidate != name
                    and not name.startswith(candidate + ".")):
                found.add(candidate)

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[:len(base) - (node.level - 1)]
                module = ".".join(prefix + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            add(module)
            for alias in node.names:
                add(f"{module}.{alias.name}")
    return found


def import_graph():
    modules = python_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph):
    """One cycle of ``graph`` as a list of modules, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_checker_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_imports_resolve_to_modules(tmp_path):
    modules = python_modules()
    graph = import_graph()
    assert "kmgmm._engines.memory" in graph["kmgmm._engines"]
    assert "kmgmm._engines" in graph["kmgmm._kmeans"]
    assert set(graph) == set(modules)


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_is_too_long():
    long = {name: len(path.read_text().splitlines())
            for name, path in python_modules().items()}
    long = {name: n for name, n in long.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
