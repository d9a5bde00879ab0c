"""Fail on any import cycle inside a package, imports inside functions included (`make lint`).

    PYTHONPATH=src python tools/import_cycles.py fmnist

import-linter's contracts (pyproject.toml) check which layer may import which; this checks that no module
reaches itself through its imports, at any depth, on the same graph (grimp's, which reads every `import`
statement a module holds, wherever it stands, without importing anything).
"""

import sys

import grimp


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that reach each other through imports (strongly connected components), sorted."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:  # Tarjan's algorithm, iterative: a deep chain must not reach Python's recursion limit
            module, imported = work[-1]
            following = next(imported, None)
            if following is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while not group or group[-1] != module:
                        group.append(stack.pop())
                        on_stack.discard(group[-1])
                    if len(group) > 1 or graph.direct_import_exists(importer=module, imported=module):
                        groups.append(sorted(group))
            elif following not in index:
                index[following] = low[following] = len(index)
                stack.append(following)
                on_stack.add(following)
                work.append((following, iter(sorted(graph.find_modules_directly_imported_by(following)))))
            elif following in on_stack:
                low[module] = min(low[module], index[following])
    return sorted(groups)


def cycle_through(graph: grimp.ImportGraph, group: list[str]) -> list[str]:
    """The shortest chain of imports from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    came_from, frontier = {}, [start]
    while frontier:  # breadth first, so the chain printed is the shortest
        following = []
        for module in frontier:
            for imported in sorted(graph.find_modules_directly_imported_by(module) & members):
                if imported == start:
                    chain = [module]
                    while chain[-1] != start:
                        chain.append(came_from[chain[-1]])
                    return [*reversed(chain), start]
                if imported not in came_from:
                    came_from[imported] = module
                    following.append(imported)
        frontier = following
    raise ValueError(f"{group} holds no cycle")


def main(package: str) -> int:
    graph = grimp.build_graph(package, cache_dir=None)  # no cache folder: the graph takes a second to build
    cycles = import_cycles(graph)
    for group in cycles:
        cycle = cycle_through(graph, group)
        print(f"import cycle among {', '.join(group)}; one of its chains: {' -> '.join(cycle)}")
        for importer, imported in zip(cycle, cycle[1:], strict=False):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                print(f"    {importer}:{detail['line_number']}: {detail['line_contents']}")
    if cycles:
        print(f"{len(cycles)} import cycle(s) in {package}: move the shared code down a layer")
        return 1
    print(f"No import cycle in {package} ({len(graph.modules)} modules, imports inside functions included)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
