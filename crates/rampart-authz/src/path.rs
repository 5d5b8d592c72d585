//! Materialised paths: how the database writes a node's place in a hierarchy, so that
//! "everyone below X" is one range over an index. A path is the segments of the node's
//! ancestors from the root down, ending with its own; the index derives the same bytes from
//! its parent links ([`materialised_path`]) so a list filter can bind them without a read.

use crate::hierarchy::Hierarchy;

/// Fixed-width path segment: the number in 4 big-endian bytes, so byte order is numeric order.
pub fn segment(num: u32) -> [u8; 4] {
    num.to_be_bytes()
}

/// A bound above every path strictly below `path`: a child's segment is at most
/// `MAX_NODE`, so `path` followed by four 0xff bytes sorts after all of them.
pub fn path_end(path: &[u8]) -> Vec<u8> {
    const _: () = assert!(crate::acl::MAX_NODE < u32::MAX);
    let mut end = path.to_vec();
    end.extend_from_slice(&[0xff; 4]);
    end
}

/// `node`'s path as the database materialises it: its ancestors' segments from the root down.
pub fn materialised_path(tree: &Hierarchy, node: u32) -> Option<Vec<u8>> {
    let mut chain = vec![node];
    let mut at = node;
    while let Some(parent) = tree.parent(at).ok()? {
        if chain.len() > tree.len() {
            return None; // a cycle: cannot happen in an index, let the database answer
        }
        chain.push(parent);
        at = parent;
    }
    Some(chain.iter().rev().flat_map(|&n| segment(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_is_numeric_order_and_the_end_bounds_every_child() {
        assert!(segment(255) < segment(256));
        let parent = segment(7).to_vec();
        let end = path_end(&parent);
        let child = [&parent[..], &segment(crate::acl::MAX_NODE)].concat();
        assert!(parent < child && child < end);
    }
}
