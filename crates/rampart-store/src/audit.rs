//! The audit log: every event of the three streams, written by [`append_event`] (one event)
//! or [`Store::append_events`] (a batch) inside the transaction of the change it records,
//! so both commit or neither does.
//!
//! This is the one place events are written. Each event gets the next sequence number from
//! `audit_head` in its own transaction: sequence numbers have no gaps and follow commit
//! order on both backends (SQLite has one writer; on PostgreSQL the head row's lock is held
//! until commit, so a later writer waits and then sees the earlier one's number). A batch
//! written by one autocommitted statement on PostgreSQL (see [`Store::append_events`])
//! moves the head only from where it was numbered, in the same statement. Event
//! `seq` is leaf `seq − 1` of the log's Merkle tree; its data is the event's canonical JSON
//! (`body`), its hash is stored beside it (`leaf_hash`) so an erasure can clear the body
//! and keep the proof.
//!
//! The room by concern: `event.rs` the events callers build, `append.rs` numbering and
//! writing them, `body.rs` their canonical body, `read.rs` reading them back (rows and
//! blocks merged in sequence order), `tiles.rs` the stored tiles of the tree,
//! `erasure.rs` redaction and archiving, `search.rs` the auditors' query, `integrity.rs`
//! the index against the bodies, `checkpoints.rs` the signed notes, `signing.rs` the rotated signing keys and witnesses'
//! cosignatures, `blocks/` the batched
//! appends' storage and `keys.rs` their search keys.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use rampart_audit::hash::{leaf_hash, Hash};
use rampart_core::{AuditContext, AuditEvent, Error, UserId};
use time::OffsetDateTime;

use crate::backend::{db, from_millis, to_millis};
use crate::db::{query, query_as, Arg, IntoArg as _, Row, Tx};
use crate::Store;

mod append;
pub(crate) mod blocks;
mod body;
mod checkpoints;
mod erasure;
mod event;
mod integrity;
pub(crate) mod keys;
mod read;
mod search;
mod signing;
mod tiles;

pub(crate) use append::*;
pub use blocks::{decode_block, encode_block, BLOCK_EVENTS};
pub(crate) use body::*;
pub use checkpoints::StoredCheckpoint;
pub use event::{NewEvent, Stream};
pub use read::StoredEvent;
pub(crate) use read::*;
pub(crate) use search::passes;
pub use search::EventQuery;
pub use signing::StoredSigningKey;
pub use tiles::AUDIT_TILE_HEIGHT;
