//! Which node each client of a multi-node Talk target talks to. Pure rules, so the split is
//! tested natively: with two nodes every measured delivery crosses the bus, because a pair's
//! visitor and the agent socket that measures it are never on the same node. With one node
//! every rule answers node 0 and the agent the single-node load always used.

/// Idle visitor `index`'s node: round robin, so the nodes hold equal shares.
pub fn idle_node(index: usize, nodes: usize) -> usize {
    index % nodes.max(1)
}

/// Pair `pair`'s visitor: pairs alternate between the nodes (half on A, half on B).
pub fn visitor_node(pair: usize, nodes: usize) -> usize {
    pair % nodes.max(1)
}

/// Pair `pair`'s receiving end (its agent, or its second tab): the node after its visitor's.
pub fn agent_node(pair: usize, nodes: usize) -> usize {
    (pair + 1) % nodes.max(1)
}

/// Agent (inbox) socket `agent`'s node: round robin, like the idle sockets.
pub fn inbox_agent_node(agent: usize, nodes: usize) -> usize {
    agent % nodes.max(1)
}

/// How many agent sockets to open when `wanted` were asked for: at least one per node, and
/// the same number on every node, so each pair has one on the node across from its visitor.
pub fn agent_count(wanted: usize, nodes: usize) -> usize {
    let nodes = nodes.max(1);
    wanted.max(1).div_ceil(nodes) * nodes
}

/// The agent socket (of `agents`, from `agent_count`) at which pair `pair`'s deliveries are
/// measured: one on `agent_node(pair)`, the pairs spread evenly over that node's agents.
/// With one node this is `pair % agents`.
pub fn measuring_agent(pair: usize, agents: usize, nodes: usize) -> usize {
    let nodes = nodes.max(1);
    let per_node = (agents / nodes).max(1);
    (pair / nodes % per_node) * nodes + agent_node(pair, nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_keeps_everything_on_it_and_spreads_pairs_over_agents() {
        for pair in 0..10 {
            assert_eq!(visitor_node(pair, 1), 0);
            assert_eq!(agent_node(pair, 1), 0);
            assert_eq!(idle_node(pair, 1), 0);
            assert_eq!(measuring_agent(pair, 3, 1), pair % 3);
        }
        assert_eq!(agent_count(1, 1), 1);
        assert_eq!(agent_count(0, 1), 1);
        assert_eq!(agent_count(3, 1), 3);
    }

    #[test]
    fn two_nodes_split_pairs_in_half_and_never_measure_on_the_visitors_node() {
        let nodes = 2;
        for wanted in 1..=5 {
            let agents = agent_count(wanted, nodes);
            assert_eq!(agents % nodes, 0, "{agents} agents");
            assert!(agents >= wanted);
            let mut on_a = 0;
            let mut used = vec![0; agents];
            for pair in 0..100 {
                let visitor = visitor_node(pair, nodes);
                let agent = measuring_agent(pair, agents, nodes);
                assert!(agent < agents);
                assert_eq!(inbox_agent_node(agent, nodes), agent_node(pair, nodes));
                assert_ne!(inbox_agent_node(agent, nodes), visitor, "pair {pair}");
                on_a += usize::from(visitor == 0);
                used[agent] += 1;
            }
            assert_eq!(on_a, 50, "half the visitors on node A");
            let (least, most) = (used.iter().min(), used.iter().max());
            assert!(
                most.unwrap() - least.unwrap() <= 1,
                "pairs per agent: {used:?}"
            );
        }
    }

    #[test]
    fn idle_sockets_alternate_between_nodes() {
        let on_b = (0..18_000).filter(|&i| idle_node(i, 2) == 1).count();
        assert_eq!(on_b, 9_000);
    }
}
