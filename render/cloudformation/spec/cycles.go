package spec

import "slices"

// cycles finds the cycles of a directed graph (node → its successors), one per strongly
// connected component with more than one node or with a self-loop. Each is returned as a real
// path that starts and ends at the component's smallest node, so messages are deterministic.
func cycles(graph map[string][]string) [][]string {
	t := tarjan{graph: graph, index: map[string]int{}, low: map[string]int{}, onStack: map[string]bool{}}
	for _, n := range sortedKeys(graph) {
		if _, seen := t.index[n]; !seen {
			t.visit(n)
		}
	}
	var out [][]string
	for _, comp := range t.components {
		if len(comp) == 1 && !slices.Contains(graph[comp[0]], comp[0]) {
			continue
		}
		out = append(out, cyclePath(graph, comp))
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

type tarjan struct {
	graph      map[string][]string
	index      map[string]int
	low        map[string]int
	onStack    map[string]bool
	stack      []string
	next       int
	components [][]string
}

func (t *tarjan) visit(n string) {
	t.index[n], t.low[n] = t.next, t.next
	t.next++
	t.stack = append(t.stack, n)
	t.onStack[n] = true
	for _, m := range t.graph[n] {
		if _, seen := t.index[m]; !seen {
			t.visit(m)
			t.low[n] = min(t.low[n], t.low[m])
		} else if t.onStack[m] {
			t.low[n] = min(t.low[n], t.index[m])
		}
	}
	if t.low[n] != t.index[n] {
		return
	}
	var comp []string
	for {
		m := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.onStack[m] = false
		comp = append(comp, m)
		if m == n {
			break
		}
	}
	slices.Sort(comp)
	t.components = append(t.components, comp)
}

// cyclePath returns a shortest path from the component's smallest node back to itself,
// staying inside the component (breadth-first, successors in sorted order).
func cyclePath(graph map[string][]string, comp []string) []string {
	start := comp[0]
	inComp := map[string]bool{}
	for _, n := range comp {
		inComp[n] = true
	}
	prev := map[string]string{}
	queue := []string{start}
	visited := map[string]bool{start: true}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		succ := slices.Clone(graph[n])
		slices.Sort(succ)
		for _, m := range succ {
			if m == start {
				path := []string{start}
				for at := n; at != start; at = prev[at] {
					path = append(path, at)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if inComp[m] && !visited[m] {
				visited[m] = true
				prev[m] = n
				queue = append(queue, m)
			}
		}
	}
	return append(comp, start)
}
