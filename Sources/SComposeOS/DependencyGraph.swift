// SPDX-License-Identifier: Apache-2.0

/// Why a dependency graph cannot be ordered or walked.
public enum DependencyGraphError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nodes that depend on each other in a ring, the first repeated at the end (`a`, `b`, `a`:
    /// a depends on b, which depends on a).
    case cycle([String])
    /// `node` depends on `dependency`, which is not in the graph: its job could never start.
    case unknownDependency(node: String, dependency: String)
    /// The walk was cancelled before every job had started.
    case cancelled

    public var description: String {
        switch self {
        // Docker Compose's wording, which scripts may look for.
        case .cycle(let path): "dependency cycle detected: " + path.joined(separator: " -> ")
        case .unknownDependency(let node, let dependency): "\(node) depends on \(dependency), which is not known"
        case .cancelled: "cancelled"
        }
    }
}

/// Nodes and what each depends on: the one place where an order of dependencies is worked
/// out (services of a project, containers from their labels, blobs of an image). It knows
/// nothing of what the nodes are; orders are deterministic, following the order in which the
/// nodes and their dependencies were given, so callers decide ties by how they build it.
public struct DependencyGraph<Node: Hashable & Sendable>: Sendable {
    /// Which way a walk goes.
    public enum Direction: Sendable {
        /// Dependencies before the nodes that depend on them (starting things).
        case up
        /// Dependants before their dependencies (stopping things).
        case down
    }

    /// Every node, in the order given (a node given twice keeps its first place).
    public let nodes: [Node]
    /// `edges[i]`: what `nodes[i]` depends on, in the order given, without repeats; it may
    /// name nodes that are not in the graph (ordering then throws).
    let edges: [[Node]]
    let position: [Node: Int]

    /// A graph of `entries`; a node listed more than once depends on the union of its lists.
    public init(_ entries: [(node: Node, dependencies: [Node])]) {
        var nodes: [Node] = []
        var edges: [[Node]] = []
        var position: [Node: Int] = [:]
        for (node, dependencies) in entries {
            let i: Int
            if let known = position[node] {
                i = known
            } else {
                i = nodes.count
                position[node] = i
                nodes.append(node)
                edges.append([])
            }
            for dependency in dependencies where !edges[i].contains(dependency) { edges[i].append(dependency) }
        }
        self.nodes = nodes
        self.edges = edges
        self.position = position
    }

    /// Nodes with no dependencies at all (a plain set of jobs).
    public init(independent nodes: [Node]) {
        self.init(nodes.map { ($0, []) })
    }

    /// Whether `node` is in the graph.
    public func contains(_ node: Node) -> Bool { position[node] != nil }

    /// What `node` depends on, in the order given (nodes not in the graph included).
    public func dependencies(of node: Node) -> [Node] {
        position[node].map { edges[$0] } ?? []
    }

    /// The nodes that depend on `node`, in the graph's order.
    public func dependants(of node: Node) -> [Node] {
        nodes.indices.filter { edges[$0].contains(node) }.map { nodes[$0] }
    }

    /// `targets` (those in the graph, in the order given) and, with `withDependencies`, all
    /// they depend on, directly or not, after them in this graph's order. Without, edges to
    /// nodes left out are dropped: the targets are ordered among themselves only.
    public func subgraph(_ targets: [Node], withDependencies: Bool) -> DependencyGraph {
        var chosen: Set<Node> = []
        var order: [Node] = []
        for target in targets where contains(target) && chosen.insert(target).inserted { order.append(target) }
        if withDependencies {
            var queue = order
            while let node = queue.popLast() {
                for dependency in dependencies(of: node) where contains(dependency) && chosen.insert(dependency).inserted {
                    queue.append(dependency)
                }
            }
            let targetSet = Set(order)
            order += nodes.filter { chosen.contains($0) && !targetSet.contains($0) }
        }
        // With dependencies every known one is in; unknown ones stay, for ordering to report.
        return DependencyGraph(order.map { ($0, withDependencies ? dependencies(of: $0) : dependencies(of: $0).filter(chosen.contains)) })
    }

    /// Throws if a node depends on one that is not in the graph, or on itself through others.
    public func validate() throws(DependencyGraphError) {
        _ = try order(.up)
    }

    /// Every node once, dependencies first (`.up`) or dependants first (`.down`). Depth-first
    /// from each node in the graph's order, dependencies in the order given; `.down` is the
    /// reverse. The first cycle met is thrown, named from where the search entered it.
    public func order(_ direction: Direction = .up) throws(DependencyGraphError) -> [Node] {
        for (i, dependencies) in edges.enumerated() {
            if let unknown = dependencies.first(where: { position[$0] == nil }) {
                throw .unknownDependency(node: "\(nodes[i])", dependency: "\(unknown)")
            }
        }
        var result: [Node] = []
        result.reserveCapacity(nodes.count)
        var done = [Bool](repeating: false, count: nodes.count)
        var path: [Int] = []
        var onPath = [Bool](repeating: false, count: nodes.count)
        func visit(_ i: Int) throws(DependencyGraphError) {
            if done[i] { return }
            if onPath[i] {
                let start = path.firstIndex(of: i) ?? 0
                throw .cycle((path[start...] + [i]).map { "\(nodes[$0])" })
            }
            onPath[i] = true
            path.append(i)
            for dependency in edges[i] {
                if let j = position[dependency] { try visit(j) }
            }
            path.removeLast()
            onPath[i] = false
            done[i] = true
            result.append(nodes[i])
        }
        for i in nodes.indices { try visit(i) }
        return direction == .up ? result : result.reversed()
    }

    /// The nodes in levels: going `.up`, level 0 holds the nodes without dependencies and each
    /// node sits one above its highest dependency; going `.down`, level 0 holds the nodes
    /// nothing depends on and each sits one above its highest dependant. A level's nodes come
    /// in the graph's order; all of one level can be handled at once.
    public func levels(_ direction: Direction) throws(DependencyGraphError) -> [[Node]] {
        let order = try order(direction)
        var level = [Int](repeating: 0, count: nodes.count)
        let before = predecessors(direction)
        for node in order {
            guard let i = position[node] else { continue }
            level[i] = before[i].map { level[$0] + 1 }.max() ?? 0
        }
        var result: [[Node]] = Array(repeating: [], count: (level.max() ?? -1) + 1)
        for i in nodes.indices { result[level[i]].append(nodes[i]) }
        return result
    }

    /// By index, what must be done before each node going `direction`: its dependencies going
    /// up, its dependants going down (nodes not in the graph left out).
    func predecessors(_ direction: Direction) -> [[Int]] {
        let up = edges.map { $0.compactMap { position[$0] } }
        guard direction == .down else { return up }
        var down = [[Int]](repeating: [], count: nodes.count)
        for (i, dependencies) in up.enumerated() {
            for j in dependencies { down[j].append(i) }
        }
        return down
    }
}
