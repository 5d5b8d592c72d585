//! Group commit for SQLite's one writer.
//!
//! Small writes that arrive together (a refresh-token rotation, an authorization code, a
//! grant's family) each used to be a transaction of their own on the one writer
//! connection: `BEGIN IMMEDIATE`, a few statements, and a commit that waits for its own
//! `fsync`. Under load they queued for the writer one commit at a time. [`Store::grouped`]
//! hands such a write to one task that owns the queue: it takes every write waiting (up to
//! [`MOST`]), runs them one after the other in **one** transaction and commits once, then
//! answers each. A write is acknowledged only after the commit that holds it, so nothing
//! acknowledged is lost.
//!
//! Each write still behaves as if it had its own transaction: writes run in arrival order
//! on the one writer, each seeing the ones before it, exactly as consecutive transactions
//! would. When one of them fails, the group is rolled back and every write in it runs
//! again alone, in its own transaction, so one write's error never undoes or fails another
//! (a write is therefore a function that may run twice; only a committed run counts).
//!
//! The audit events a grouped write records ([`Grouped::record`]) are kept until the
//! commit, then numbered and written together as blocks, the way the audit pipeline writes
//! a batch (`audit::write_events`): a group of rotations costs two statements for all its
//! events instead of three for each. They are in the same transaction as the writes that
//! recorded them, in the writes' order, so a change and its event still commit together or
//! not at all.
//!
//! PostgreSQL has a writer per connection and groups commits itself; there a grouped write
//! is simply its own transaction (its events written as one batch before the commit).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rampart_core::{AuditContext, Error};
use sqlx::SqlitePool;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::audit::NewEvent;
use crate::backend::{db, Backend};
use crate::db::Tx;
use crate::Store;

/// The most writes one commit holds.
pub(crate) const MOST: usize = 128;

/// Writes waiting for the group task; senders wait when it is full.
const QUEUE: usize = 1024;

/// A boxed future borrowing the transaction.
pub(crate) type Step<'t, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 't>>;

/// The transaction grouped writes run in, and the audit events they recorded, written
/// just before the commit (see the module documentation).
pub(crate) struct Grouped {
    /// The open transaction.
    pub(crate) tx: Tx<'static>,
    events: Vec<NewEvent>,
}

impl Grouped {
    fn new(tx: Tx<'static>) -> Self {
        Self {
            tx,
            events: Vec::new(),
        }
    }

    /// Records the success of `action` on `target` with its `details` (a JSON object): the
    /// write's own event, committed with it.
    pub(crate) fn record(
        &mut self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        action: &'static str,
        target: impl Into<Option<String>>,
        details: serde_json::Value,
    ) {
        let event = crate::audit::success(action, target, details);
        self.events.push(NewEvent::system(ctx, &event, now));
    }

    /// Writes the recorded events, then commits.
    async fn commit(mut self) -> Result<(), Error> {
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            crate::audit::write_events(&mut self.tx, events).await?;
        }
        self.tx.commit().await
    }
}

/// One write in the queue: its statements, and where its answer goes.
trait Job: Send {
    /// Runs the write's statements in `tx`, keeping its answer until the commit; whether
    /// they succeeded.
    fn run<'t>(
        &'t mut self,
        tx: &'t mut Grouped,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 't>>;
    /// Answers the caller: the kept answer once `committed` is `Ok`, else its error.
    fn answer(self: Box<Self>, committed: Result<(), Error>);
}

struct Typed<D, T, F> {
    data: D,
    write: F,
    kept: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<D, T, F> Job for Typed<D, T, F>
where
    D: Send + Sync + 'static,
    T: Send + 'static,
    F: for<'t> Fn(&'t mut Grouped, &'t D) -> Step<'t, T> + Send + 'static,
{
    fn run<'t>(
        &'t mut self,
        tx: &'t mut Grouped,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 't>> {
        Box::pin(async move {
            let out = (self.write)(tx, &self.data).await;
            let ok = out.is_ok();
            self.kept = Some(out);
            ok
        })
    }

    fn answer(self: Box<Self>, committed: Result<(), Error>) {
        let out = match (committed, self.kept) {
            (Ok(()), Some(kept)) => kept,
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(Error::Internal("a grouped write never ran".into())),
        };
        // The caller may have gone (its request was dropped); the write stands regardless.
        let _ = self.reply.send(out);
    }
}

/// The sending side kept by the store, and what the group task counts; the task stops
/// when the last sender drops.
#[derive(Clone)]
pub(crate) struct Queue {
    send: mpsc::Sender<Box<dyn Job>>,
    counts: Arc<Counts>,
}

/// What grouped writes came to since the store opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupCounts {
    /// Writes taken from the queue.
    pub writes: u64,
    /// Commits of two writes or more.
    pub groups: u64,
    /// Groups rolled back because one of their writes failed, whose writes then ran alone.
    pub split: u64,
}

#[derive(Default)]
struct Counts {
    writes: AtomicU64,
    groups: AtomicU64,
    split: AtomicU64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("group::Queue")
    }
}

impl Queue {
    /// Starts the group task over the one `writer` connection, on a thread of its own.
    ///
    /// A group waits for each of its statements in turn (the writer connection answers on
    /// its own thread). Among the request handlers' tasks, every such wait also waited for
    /// a turn on the busy workers, so a group took several times the writer's work and
    /// the writes queued behind it; on its own thread the task resumes as soon as the
    /// writer answers. The thread ends when the store's last handle is dropped.
    pub(crate) fn start(writer: SqlitePool) -> Result<Self, Error> {
        let (send, receive) = mpsc::channel(QUEUE);
        let counts = Arc::<Counts>::default();
        let task = serve(writer, receive, counts.clone());
        let cannot = |e: std::io::Error| {
            Error::Internal(format!("starting the thread of grouped writes: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(cannot)?;
        std::thread::Builder::new()
            .name("rampart-group".into())
            .spawn(move || runtime.block_on(task))
            .map_err(cannot)?;
        Ok(Self { send, counts })
    }
}

impl Store {
    /// Runs `write` over `data` in a transaction on the writer, grouped with other writes
    /// waiting at the same moment into one commit on SQLite (see the module
    /// documentation). `write` may run more than once; its answer is the one of the run
    /// that committed.
    pub(crate) async fn grouped<D, T, F>(&self, data: D, write: F) -> Result<T, Error>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
        F: for<'t> Fn(&'t mut Grouped, &'t D) -> Step<'t, T> + Send + 'static,
    {
        let Backend::Sqlite { grouped, .. } = &self.backend else {
            let mut tx = Grouped::new(self.write().await?);
            let out = write(&mut tx, &data).await?;
            tx.commit().await?;
            return Ok(out);
        };
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            data,
            write,
            kept: None,
            reply,
        });
        grouped.send.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Appends `event` as a grouped write of its own, for an event that is all its request
    /// writes (a client-credentials grant): on SQLite it commits with the writes waiting at
    /// the same moment, on the group's thread, and is answered after that commit. On
    /// PostgreSQL it is its own transaction.
    pub async fn append_grouped(&self, event: NewEvent) -> Result<(), Error> {
        self.grouped(event, |g, event| {
            g.events.push(event.clone());
            Box::pin(std::future::ready(Ok(())))
        })
        .await?;
        // Counted as `append_events` counts, so work in the background yields to it.
        self.count_appended(1);
        Ok(())
    }

    /// What grouped writes came to since the store opened; zeros on PostgreSQL, where
    /// writes are not grouped.
    pub fn group_counts(&self) -> GroupCounts {
        let Backend::Sqlite { grouped, .. } = &self.backend else {
            return GroupCounts::default();
        };
        let c = &grouped.counts;
        GroupCounts {
            writes: c.writes.load(Ordering::Relaxed),
            groups: c.groups.load(Ordering::Relaxed),
            split: c.split.load(Ordering::Relaxed),
        }
    }
}

/// The writer held by a test, so that grouped writes queue behind it; released (rolled
/// back) when dropped.
#[cfg(feature = "testing")]
pub struct WriterHold(#[allow(dead_code)] Tx<'static>);

#[cfg(feature = "testing")]
impl Store {
    /// Takes the writer until the hold is dropped: grouped writes sent meanwhile wait, the
    /// first one taken in a group of its own and the others in the queue.
    pub async fn hold_writer(&self) -> Result<WriterHold, Error> {
        Ok(WriterHold(self.write().await?))
    }

    /// Grouped writes sent and not yet taken by the group task (0 on PostgreSQL).
    pub fn group_waiting(&self) -> usize {
        let Backend::Sqlite { grouped, .. } = &self.backend else {
            return 0;
        };
        grouped.send.max_capacity() - grouped.send.capacity()
    }
}

fn stopped() -> Error {
    Error::Unavailable("the database writer has stopped".into())
}

/// The group task: takes what is waiting, commits it as one, answers, and again.
async fn serve(writer: SqlitePool, mut receive: mpsc::Receiver<Box<dyn Job>>, counts: Arc<Counts>) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MOST);
    while receive.recv_many(&mut group, MOST).await > 0 {
        counts
            .writes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        commit_group(&writer, std::mem::take(&mut group), &counts).await;
    }
}

async fn commit_group(writer: &SqlitePool, mut group: Vec<Box<dyn Job>>, counts: &Counts) {
    if group.len() > 1 {
        if together(writer, &mut group).await.is_ok() {
            counts.groups.fetch_add(1, Ordering::Relaxed);
            for job in group {
                job.answer(Ok(()));
            }
            return;
        }
        // One write failed, or the commit did: every write runs again alone, so each gets
        // its own answer.
        counts.split.fetch_add(1, Ordering::Relaxed);
    }
    for mut job in group {
        let committed = alone(writer, job.as_mut()).await;
        job.answer(committed);
    }
}

/// All of `group` in one transaction; nothing is kept unless every write and the commit
/// succeed (dropping the transaction rolls it back).
async fn together(writer: &SqlitePool, group: &mut [Box<dyn Job>]) -> Result<(), Error> {
    let mut tx = begin(writer).await?;
    for job in group.iter_mut() {
        if !job.run(&mut tx).await {
            return Err(Error::Internal("a grouped write failed".into()));
        }
    }
    tx.commit().await
}

/// One write in its own transaction. `Ok` also when the write itself failed (nothing is
/// committed then, and its kept answer is the error).
async fn alone(writer: &SqlitePool, job: &mut dyn Job) -> Result<(), Error> {
    let mut tx = begin(writer).await?;
    if job.run(&mut tx).await {
        tx.commit().await
    } else {
        Ok(())
    }
}

/// A transaction on the one writer, taking its lock at once.
async fn begin(writer: &SqlitePool) -> Result<Grouped, Error> {
    let tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    Ok(Grouped::new(Tx::Sqlite(tx)))
}
