//! Re-encryption after a key rotation: every sealed value of an environment not sealed with
//! its newest data key is opened with its own and sealed again with the newest, a batch per
//! transaction. Interrupted, it loses nothing (each batch commits whole, and a value changed
//! meanwhile is left to its writer, who sealed it with the newest key already); run again,
//! it continues where values still name an older key.

use rampart_apps::seal::envelope_key_id;
use rampart_core::Error;

use super::keys::Place;
use crate::state::AppState;

/// Rows read and written per transaction.
const BATCH: i64 = 500;

/// What a re-encryption did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Sealed values read.
    pub read: u64,
    /// Values sealed again with the newest key.
    pub resealed: u64,
}

/// Re-seals every value of `env` that an older data key sealed. `progress` is told the
/// values read so far.
pub async fn reencrypt(
    state: &AppState,
    env: &str,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Resealed, Error> {
    let Some(keys) = state.keys.load(&state.store, env).await? else {
        return Ok(Resealed::default());
    };
    let current = keys.current_id();
    let mut done = Resealed::default();
    for db in state.store.app_databases().await? {
        if db.environment != env {
            continue;
        }
        let layout = state.store.app_layout(&db).await?;
        for table in &layout.tables {
            for column in table.columns.iter().filter(|c| c.sensitive()) {
                let mut after = String::new();
                loop {
                    let batch = state
                        .store
                        .app_sealed_batch(&db, table, column, &after, BATCH)
                        .await?;
                    let Some((last, _)) = batch.last() else {
                        break;
                    };
                    after = last.clone();
                    let mut writes = Vec::new();
                    for (id, envelope) in &batch {
                        done.read += 1;
                        if envelope_key_id(envelope) == Some(current) {
                            continue;
                        }
                        let place = Place {
                            db: &db,
                            table: &table.name,
                            attribute: &column.attribute,
                            record: id,
                        };
                        let plain = keys.open(place, envelope)?;
                        writes.push((id.clone(), envelope.clone(), keys.seal(place, &plain)?));
                    }
                    if !writes.is_empty() {
                        done.resealed +=
                            state.store.app_reseal(&db, table, column, &writes).await?;
                    }
                    progress(done.read);
                }
            }
        }
    }
    Ok(done)
}
