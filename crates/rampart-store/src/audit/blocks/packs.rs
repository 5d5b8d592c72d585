//! Search keys (63 bits of SHA-256 over a field tag and a value) and their per-block packs:
//! sorted `(key, place)` entries, 9 bytes each, one row of `audit_key_packs` per block.

use super::*;

use sha2::{Digest as _, Sha256};

/// Rows per `INSERT` into `audit_keys` (3 values each: under both backends' bind limits).
pub(crate) const KEY_ROWS: usize = 8_000;

/// A field a search key is made from.
#[derive(Clone, Copy)]
pub(super) enum Field {
    Actor = 1,
    Target = 2,
    Stream = 3,
    Action = 4,
}

/// The search key of a field's value: the first 63 bits of SHA-256 over the field's tag
/// and the value (a collision only adds a candidate, which the decoded event then refuses).
pub(super) fn key(field: Field, value: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update([field as u8])
        .chain_update(value.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 1) as i64
}

/// The keys an event is found by.
pub(super) fn keys_of<'a>(
    stream: &str,
    action: &str,
    actor: Option<&'a str>,
    target: Option<&'a str>,
) -> impl Iterator<Item = i64> + 'a {
    let stream_key = (stream != Stream::Access.as_str()).then(|| key(Field::Stream, stream));
    let action_key = (action != "access").then(|| key(Field::Action, action));
    actor
        .map(|a| key(Field::Actor, a))
        .into_iter()
        .chain(target.map(|t| key(Field::Target, t)))
        .chain(stream_key)
        .chain(action_key)
}

/// A facet as stored in `facets` (a JSON string, quotes included).
pub(super) fn facet(name: &str, value: &str) -> String {
    serde_json::to_string(&format!("{name}:{value}")).unwrap_or_default()
}

/// The `LIKE` pattern that finds a facet in `facets`.
pub(super) fn facet_pattern(name: &str, value: &str) -> String {
    format!("%{}%", crate::backend::like_escape(&facet(name, value)))
}

/// Bytes of one entry of a key pack: the key (big-endian) and the event's place in its block.
pub(super) const PACK_ENTRY: usize = 9;

/// Encodes a block's search keys, `(key, place)` pairs, as its pack (see
/// [`crate::audit::keys`]): sorted by key, then place, 9 bytes each.
pub(super) fn encode_pack(pairs: &mut [(i64, u8)]) -> Vec<u8> {
    pairs.sort_unstable();
    let mut out = Vec::with_capacity(pairs.len() * PACK_ENTRY);
    for &(key, place) in pairs.iter() {
        out.extend_from_slice(&key.to_be_bytes());
        out.push(place);
    }
    out
}

/// The `(key, place)` entries of a stored pack, in its order; an error if its length is
/// not whole entries.
pub(crate) fn pack_entries(
    first_seq: i64,
    pack: &[u8],
) -> Result<impl Iterator<Item = (i64, u8)> + '_, Error> {
    if !pack.len().is_multiple_of(PACK_ENTRY) {
        return Err(Error::Internal(format!(
            "search-key pack of the audit block at {first_seq}: {} bytes",
            pack.len()
        )));
    }
    Ok(pack.chunks_exact(PACK_ENTRY).map(|e| {
        let mut key = [0u8; 8];
        key.copy_from_slice(&e[..8]);
        (i64::from_be_bytes(key), e[8])
    }))
}

/// The sequence numbers in the pack of the block at `first_seq` that have one of `keys`
/// (each looked up by binary search: entries are sorted by key).
pub(crate) fn pack_find(first_seq: i64, pack: &[u8], keys: &[i64]) -> Result<Vec<i64>, Error> {
    let entries: Vec<(i64, u8)> = pack_entries(first_seq, pack)?.collect();
    let mut out = Vec::new();
    for &k in keys {
        let from = entries.partition_point(|&(key, _)| key < k);
        out.extend(
            entries[from..]
                .iter()
                .take_while(|&&(key, _)| key == k)
                .map(|&(_, place)| first_seq + i64::from(place)),
        );
    }
    Ok(out)
}

/// The pack of the block at `first_seq` without the `(key, seq)` entries in `gone`.
pub(crate) fn pack_without(
    first_seq: i64,
    pack: &[u8],
    gone: &BTreeSet<(i64, i64)>,
) -> Result<Vec<u8>, Error> {
    let mut kept: Vec<(i64, u8)> = pack_entries(first_seq, pack)?
        .filter(|&(key, place)| !gone.contains(&(key, first_seq + i64::from(place))))
        .collect();
    Ok(encode_pack(&mut kept))
}

/// The search key of a target.
pub(crate) fn target_key(target: &str) -> i64 {
    key(Field::Target, target)
}
