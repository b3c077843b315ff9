#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a cycle, or when a core module reads config.

Granularity: the top-level modules of each crate (the `mod` items of its `lib.rs`/`main.rs`), plus
the crate root itself. `token.rs`, `token/tests.rs` and `token/*.rs` are all `token`; `policy/mod.rs`
and `policy/parse.rs` are both `policy`. Files inside one such module may refer to each other
freely (a parent declares its children and they use its items, which is how Rust modules are
built); what must stay acyclic is the graph between them.

A family is a top-level module that only groups others (its file declares child modules and holds
no item of its own, such as the core's `credentials` or `rails`): it is a folder, not a module with
a meaning of its own, so its children are the graph's nodes (`rails::x402`, `rails::mpp`) and must
be acyclic among themselves and with every other node.

An edge `a -> b` is any path in non-test code of `a` that resolves to an item of `b`:
`use crate::b::…`, `use super::…` that climbs into `b`, `crate::b::x` in an expression or type, and
in the crate root a bare `b::x`. Use trees (`use crate::{a::X, b::{Y, Z}}`) are expanded. Test code
is left out: `#[cfg(test)]` items (inline or `mod tests;` files) and everything under them, so a test
may build a `Config` without making its module depend on `config`.

Rules:
1. No strongly connected component of more than one module, in any crate.
2. In `gatehouse-core`, only `config` may import `config`: configuration reads variables into the
   types the protocol modules own, and no protocol module looks back at it.

Python 3 standard library only. Exit status 1 lists every problem; 0 prints the graphs.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each crate root, with a name for the report. The kit's binary is its own crate root.
CRATES = [
    ("gatehouse-core", ROOT / "crates/gatehouse-core/src/lib.rs"),
    ("gatehouse (Worker shell)", ROOT / "src/lib.rs"),
    ("gatehouse-kit", ROOT / "crates/gatehouse-kit/src/lib.rs"),
    ("gatehouse-solve", ROOT / "crates/gatehouse-kit/src/bin/gatehouse-solve.rs"),
    ("rust-passthrough", ROOT / "bench/rust-passthrough/src/lib.rs"),
]
CONFIG_CRATE, CONFIG_MODULE = "gatehouse-core", "config"
CRATE_ROOT = "(crate root)"

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(src: str) -> str:
    """Blanks comments, string and char literals (keeping newlines), so text in them is not code."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if src[i] == "\n" else "")
                    i += 1
        elif (m := re.match(r'b?r(#*)"', src[i:])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'" and (m := re.match(r"'(\\.[^']*|[^'\\])'", src[i:])):
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def item_end(text: str, i: int) -> int:
    """Index just past the item starting at `i`: its `;` or its `{ … }` block, at depth 0."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c == ";":
            return i + 1
        elif depth == 0 and c == "{":
            return block_end(text, i)
        i += 1
    return i


def block_end(text: str, i: int) -> int:
    """Index just past the `}` matching the `{` at `i`."""
    depth = 0
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


ATTRS = re.compile(r"(?:#\s*\[[^\]]*\]\s*)+")
TEST_ATTR = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")


def drop_test_items(text: str) -> str:
    """Removes every item under `#[cfg(test)]`, with its other attributes."""
    out, pos = [], 0
    for m in ATTRS.finditer(text):
        if m.start() < pos or not TEST_ATTR.search(m.group(0)):
            continue
        end = item_end(text, m.end())
        out.append(text[pos : m.start()])
        out.append("\n" * text.count("\n", m.start(), end))
        pos = end
    out.append(text[pos:])
    return "".join(out)


MOD_DECL = re.compile(rf"(?P<attrs>(?:#\s*\[[^\]]*\]\s*)*)(?:\bpub\s*(?:\([^)]*\))?\s*)?\bmod\s+(?P<name>{IDENT})\s*(?P<kind>[;{{])")


def split_modules(text: str, path: list):
    """Yields (module path, code) for the code of this module and of each inline `mod x { … }`,
    and (module path, None, attrs) for each `mod x;` whose file is elsewhere."""
    own, pos = [], 0
    for m in MOD_DECL.finditer(text):
        if m.start() < pos:
            continue
        name = m.group("name")
        own.append(text[pos : m.start()])
        if m.group("kind") == ";":
            yield (path + [name], None, m.group("attrs"))
            pos = m.end()
        else:
            end = block_end(text, m.end() - 1)
            yield from split_modules(text[m.end() : end - 1], path + [name])
            pos = end
    own.append(text[pos:])
    yield (path, "".join(own), None)


USE = re.compile(r"\buse\s+([^;]*);")


def expand_use_tree(tree: str) -> list:
    """`crate::{a::X, b::{Y, Z}}` -> [['crate','a','X'], ['crate','b','Y'], ['crate','b','Z']]."""
    tree = re.sub(r"\s+", "", tree)
    tree = re.sub(rf"\bas{IDENT}", "", re.sub(rf"\bas\b\s*{IDENT}", "", tree))

    def parse(s: str, prefix: list) -> list:
        if not s:
            return [prefix] if prefix else []
        brace = s.find("{")
        if brace < 0:
            return [prefix + [seg for seg in s.split("::") if seg]]
        head = [seg for seg in s[:brace].split("::") if seg]
        inner = s[brace + 1 : s.rfind("}")]
        parts, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        parts.append(cur)
        paths = []
        for part in parts:
            paths.extend(parse(part, prefix + head) if part else [])
        return paths or [prefix + head]

    return parse(tree, [])


EXPR_PATH = re.compile(rf"(?<![A-Za-z0-9_:$])(crate|super|self)((?:\s*::\s*{IDENT})+)")
ROOT_PATH = re.compile(rf"(?<![A-Za-z0-9_:$.])({IDENT})\s*::\s*{IDENT}")
VISIBILITY = re.compile(r"\bpub\s*\(\s*(?:crate|super|self|in\s+[^)]*)\)")


def resolve(segments: list, here: list):
    """The absolute module path a `crate`/`super`/`self` path names, or None if it starts elsewhere."""
    if not segments or segments[0] not in ("crate", "super", "self"):
        return None
    base = list(here)
    rest = list(segments)
    if rest[0] == "crate":
        base, rest = [], rest[1:]
    while rest and rest[0] in ("super", "self"):
        if rest.pop(0) == "super":
            base = base[:-1]
    return base + rest


def module_files(root_file: Path):
    """(module path, code) for every non-test module reachable from the crate root."""
    pending = [([], root_file)]
    while pending:
        path, file = pending.pop()
        code = drop_test_items(strip_comments_and_strings(file.read_text()))
        if re.match(r"\s*#!\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]", code):
            continue
        is_mod_rs = file.name in ("mod.rs", "lib.rs", "main.rs") or file == root_file
        directory = file.parent if is_mod_rs else file.parent / file.stem
        for mod_path, body, attrs in split_modules(code, path):
            if body is not None:
                yield mod_path, body
                continue
            explicit = re.search(r'#\s*\[\s*path\s*=\s*"([^"]*)"', attrs or "")
            name = mod_path[-1]
            candidates = (
                [file.parent / explicit.group(1)]
                if explicit
                else [directory / f"{name}.rs", directory / name / "mod.rs"]
            )
            child = next((c for c in candidates if c.exists()), None)
            if child is None:
                raise SystemExit(f"check_cycles: cannot find the file of `mod {name}` in {file}")
            pending.append((mod_path, child))


def families(modules: list) -> set:
    """Top-level modules whose own code declares children and nothing else."""
    own = {}
    for path, code in modules:
        if len(path) == 1:
            own[path[0]] = code
    return {
        name
        for name, code in own.items()
        if not re.sub(r"(?:#\s*\[[^\]]*\]\s*)*\bpub\s*mod\s+\w+\s*;", "", code).strip()
        and any(len(p) == 2 and p[0] == name for p, _ in modules)
    }


def crate_graph(root_file: Path):
    modules = list(module_files(root_file))
    grouping = families(modules)
    tops = {path[0] for path, _ in modules if path}

    def node(abs_path):
        if not abs_path or abs_path[0] not in tops:
            return CRATE_ROOT
        if abs_path[0] in grouping and len(abs_path) > 1:
            return "::".join(abs_path[:2])
        return abs_path[0]

    nodes = {node(path) for path, _ in modules if path} | {CRATE_ROOT}
    edges = {name: set() for name in nodes}

    def owner(abs_path):
        return node(abs_path)

    for path, code in modules:
        here = node(path)
        code = VISIBILITY.sub(" ", code)
        targets = []
        for use in USE.finditer(code):
            for segs in expand_use_tree(use.group(1)):
                if not path and segs and segs[0] in tops:
                    segs = ["crate"] + segs
                targets.append(resolve(segs, path))
        rest = USE.sub(" ", code)
        for m in EXPR_PATH.finditer(rest):
            segs = [m.group(1)] + [s.strip() for s in m.group(2).split("::") if s.strip()]
            targets.append(resolve(segs, path))
        if not path:
            # In the crate root, `token::verify(…)` names the module `token` directly.
            for m in ROOT_PATH.finditer(rest):
                if m.group(1) in tops:
                    targets.append([m.group(1)])
        for target in targets:
            if target is None or (target == [] and not path):
                continue
            dest = owner(target)
            if dest != here:
                edges[here].add(dest)
    return edges


def cycles(edges: dict) -> list:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def shortest_cycle(edges: dict, component: list) -> list:
    """One shortest cycle through the component's first module, to show where to cut."""
    start = component[0]
    previous, queue = {}, [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node]):
            if child not in component:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return component


def main() -> int:
    problems = []
    verbose = "-v" in sys.argv
    for crate, root_file in CRATES:
        if not root_file.exists():
            continue
        edges = crate_graph(root_file)
        for component in cycles(edges):
            inside = [
                f"{a} -> {b}" for a in component for b in sorted(edges[a]) if b in component
            ]
            problems.append(
                f"{crate}: import cycle among {', '.join(component)} "
                f"(e.g. {' -> '.join(shortest_cycle(edges, component))}); edges inside it:\n      "
                + "\n      ".join(inside)
            )
        if crate == CONFIG_CRATE:
            readers = sorted(m for m, out in edges.items() if CONFIG_MODULE in out and m != CONFIG_MODULE)
            for reader in readers:
                problems.append(
                    f"{crate}: `{reader}` imports `{CONFIG_MODULE}`; move the type it needs to the module "
                    f"that owns it (config may re-export it)"
                )
        if verbose:
            print(f"{crate}:")
            for node in sorted(edges):
                print(f"  {node} -> {', '.join(sorted(edges[node])) or '(nothing)'}")
    if problems:
        print("check_cycles: FAILED", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"check_cycles: no import cycle in {sum(1 for _, r in CRATES if r.exists())} crates; only config reads config")
    return 0


if __name__ == "__main__":
    sys.exit(main())
