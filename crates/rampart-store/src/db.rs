//! One transaction type, one read handle, one argument type and one row type for both
//! backends, so that a query and the helpers around it are written and compiled once.
//!
//! Most statements are one call on a [`Tx`] or a [`Db`] (`exec`, `scalar`, `row_opt`, `one`,
//! …) with their arguments as [`Arg`]s, errors mapped with [`db`](crate::backend::db). The
//! others are built with [`query`], [`query_scalar`] or [`query_as`] (the names and methods
//! of sqlx's own), their values bound as [`Arg`]s, and run on an [`Ex`]: a write transaction
//! ([`Tx`], begun by [`Store::write`]), a read snapshot ([`Store::snapshot`]) or the pool of
//! readers ([`Db`], from [`Store::reader`]). Each run dispatches once on the backend; the
//! text is the same for both (`$N` placeholders, which SQLite accepts). Errors are sqlx's,
//! so a caller maps them with [`db`](crate::backend::db) or a more specific conversion.

use std::borrow::Cow;
use std::marker::PhantomData;

use futures_util::TryStreamExt as _;
use rampart_core::Error;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments as _, Postgres, Sqlite};

use crate::backend::{db, Backend, BackendKind, Store};

/// An open transaction on either backend. Dropping it rolls it back; [`Tx::commit`] ends it.
pub(crate) enum Tx<'c> {
    Sqlite(sqlx::Transaction<'c, Sqlite>),
    Postgres(sqlx::Transaction<'c, Postgres>),
}

impl Tx<'_> {
    /// The backend the transaction runs on.
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Tx::Sqlite(_) => BackendKind::Sqlite,
            Tx::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Whether the transaction runs on SQLite.
    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, Tx::Sqlite(_))
    }

    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await.map_err(db),
            Tx::Postgres(tx) => tx.commit().await.map_err(db),
        }
    }
}

/// The pool that serves reads outside a transaction; cheap to copy.
#[derive(Clone, Copy)]
pub(crate) enum Db<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

/// Where a query runs: a transaction's connection or a pool.
pub(crate) enum Ex<'e> {
    Sqlite(&'e mut SqliteConnection),
    SqlitePool(&'e SqlitePool),
    Postgres(&'e mut PgConnection),
    PgPool(&'e PgPool),
}

impl<'e, 'c> From<&'e mut Tx<'c>> for Ex<'e> {
    fn from(tx: &'e mut Tx<'c>) -> Self {
        match tx {
            Tx::Sqlite(t) => Ex::Sqlite(t),
            Tx::Postgres(t) => Ex::Postgres(t),
        }
    }
}

impl<'a> From<Db<'a>> for Ex<'a> {
    fn from(pool: Db<'a>) -> Self {
        match pool {
            Db::Sqlite(p) => Ex::SqlitePool(p),
            Db::Postgres(p) => Ex::PgPool(p),
        }
    }
}

/// Arguments of a statement, in placeholder order: `[a.into(), b.into()]`.
pub(crate) trait Args<'q>: IntoIterator<Item = Arg<'q>> {}

impl<'q, I: IntoIterator<Item = Arg<'q>>> Args<'q> for I {}

/// The statement idiom in one call each, errors mapped with [`db`]: run a statement, or fetch
/// its rows (`row…`), its first column (`scalar…`) or tuples (`one`, `opt`, `all`). A caller
/// that needs sqlx's own error builds the statement with [`query`] instead.
pub(crate) async fn exec<'e, 'q>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<u64, Error> {
    Ok(query(sql)
        .bind_all(args)
        .execute(ex)
        .await
        .map_err(db)?
        .rows_affected())
}

async fn row_opt<'e, 'q>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Option<Row>, Error> {
    query(sql)
        .bind_all(args)
        .fetch_optional(ex)
        .await
        .map_err(db)
}

async fn rows<'e, 'q>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Vec<Row>, Error> {
    query(sql).bind_all(args).fetch_all(ex).await.map_err(db)
}

async fn scalar<'e, 'q, T: Col + Send + Unpin>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<T, Error> {
    query_scalar(sql)
        .bind_all(args)
        .fetch_one(ex)
        .await
        .map_err(db)
}

async fn scalar_opt<'e, 'q, T: Col + Send + Unpin>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Option<T>, Error> {
    query_scalar(sql)
        .bind_all(args)
        .fetch_optional(ex)
        .await
        .map_err(db)
}

async fn scalars<'e, 'q, T: Col + Send + Unpin>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Vec<T>, Error> {
    query_scalar(sql)
        .bind_all(args)
        .fetch_all(ex)
        .await
        .map_err(db)
}

async fn one<'e, 'q, T: FromRow>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<T, Error> {
    query_as(sql).bind_all(args).fetch_one(ex).await.map_err(db)
}

async fn opt<'e, 'q, T: FromRow>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Option<T>, Error> {
    query_as(sql)
        .bind_all(args)
        .fetch_optional(ex)
        .await
        .map_err(db)
}

async fn all<'e, 'q, T: FromRow>(
    ex: impl Into<Ex<'e>>,
    sql: &'q str,
    args: impl Args<'q>,
) -> Result<Vec<T>, Error> {
    query_as(sql).bind_all(args).fetch_all(ex).await.map_err(db)
}

impl Tx<'_> {
    /// Runs a statement; the number of rows it inserted, updated or deleted.
    pub(crate) async fn exec<'q>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<u64, Error> {
        exec(self, sql, args).await
    }

    /// The first row, if any.
    pub(crate) async fn row_opt<'q>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<Row>, Error> {
        row_opt(self, sql, args).await
    }

    /// Every row.
    pub(crate) async fn rows<'q>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<Row>, Error> {
        rows(self, sql, args).await
    }

    /// The one row's first column; an error when there is none.
    pub(crate) async fn scalar<'q, T: Col + Send + Unpin>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<T, Error> {
        scalar(self, sql, args).await
    }

    /// The first row's first column, if any.
    pub(crate) async fn scalar_opt<'q, T: Col + Send + Unpin>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<T>, Error> {
        scalar_opt(self, sql, args).await
    }

    /// Every row's first column.
    pub(crate) async fn scalars<'q, T: Col + Send + Unpin>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<T>, Error> {
        scalars(self, sql, args).await
    }

    /// The one row as a tuple; an error when there is none.
    pub(crate) async fn one<'q, T: FromRow>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<T, Error> {
        one(self, sql, args).await
    }

    /// The first row as a tuple, if any.
    pub(crate) async fn opt<'q, T: FromRow>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<T>, Error> {
        opt(self, sql, args).await
    }

    /// Every row as a tuple.
    pub(crate) async fn all<'q, T: FromRow>(
        &mut self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<T>, Error> {
        all(self, sql, args).await
    }
}

impl Db<'_> {
    /// The one row as a tuple; an error when there is none.
    pub(crate) async fn one<'q, T: FromRow>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<T, Error> {
        one(self, sql, args).await
    }

    /// The first row, if any.
    pub(crate) async fn row_opt<'q>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<Row>, Error> {
        row_opt(self, sql, args).await
    }

    /// Every row.
    pub(crate) async fn rows<'q>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<Row>, Error> {
        rows(self, sql, args).await
    }

    /// The one row's first column; an error when there is none.
    pub(crate) async fn scalar<'q, T: Col + Send + Unpin>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<T, Error> {
        scalar(self, sql, args).await
    }

    /// The first row's first column, if any.
    pub(crate) async fn scalar_opt<'q, T: Col + Send + Unpin>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<T>, Error> {
        scalar_opt(self, sql, args).await
    }

    /// Every row's first column.
    pub(crate) async fn scalars<'q, T: Col + Send + Unpin>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<T>, Error> {
        scalars(self, sql, args).await
    }

    /// The first row as a tuple, if any.
    pub(crate) async fn opt<'q, T: FromRow>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Option<T>, Error> {
        opt(self, sql, args).await
    }

    /// Every row as a tuple.
    pub(crate) async fn all<'q, T: FromRow>(
        self,
        sql: &'q str,
        args: impl Args<'q>,
    ) -> Result<Vec<T>, Error> {
        all(self, sql, args).await
    }
}

/// Begins a transaction to its end even if the caller goes away meanwhile (a client that
/// disconnects, a timeout). The driver begins on the connection's own worker: a begin
/// cancelled before its answer arrives leaves the connection inside a transaction that no
/// guard will end, back in its pool, and every later begin on it fails (on SQLite's one
/// writer: every write, until a restart). Spawned, the begin completes; if its caller has
/// gone, the transaction is dropped, which rolls it back.
pub(crate) async fn begun<T: Send + 'static>(
    begin: impl std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, Error> {
    tokio::spawn(begin)
        .await
        .map_err(|e| Error::Internal(format!("a transaction's begin stopped: {e}")))?
        .map_err(db)
}

impl Store {
    /// Begins a write transaction: on SQLite `BEGIN IMMEDIATE` on the one writer, so the
    /// write lock is taken at once instead of on the first write.
    pub(crate) async fn write(&self) -> Result<Tx<'static>, Error> {
        self.head.moved();
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                let writer = writer.clone();
                begun(async move { writer.begin_with("BEGIN IMMEDIATE").await })
                    .await
                    .map(Tx::Sqlite)
            }
            Backend::Postgres(pool) => {
                let pool = pool.clone();
                begun(async move { crate::backend::pg_begin(&pool).await })
                    .await
                    .map(Tx::Postgres)
            }
        }
    }

    /// Begins a read in one consistent snapshot: a read transaction on SQLite, a
    /// repeatable-read, read-only transaction on PostgreSQL.
    pub(crate) async fn snapshot(&self) -> Result<Tx<'static>, Error> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                let reader = reader.clone();
                begun(async move { reader.begin().await })
                    .await
                    .map(Tx::Sqlite)
            }
            Backend::Postgres(pool) => {
                let pool = pool.clone();
                let mut tx = begun(async move { crate::backend::pg_begin(&pool).await })
                    .await
                    .map(Tx::Postgres)?;
                tx.exec(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
                    [],
                )
                .await?;
                Ok(tx)
            }
        }
    }

    /// The pool that serves reads.
    pub(crate) fn reader(&self) -> Db<'_> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => Db::Sqlite(reader),
            Backend::Postgres(pool) => Db::Postgres(pool),
        }
    }
}

/// A value bound to a placeholder. `None` is a NULL of the variant's type, which PostgreSQL
/// needs to know.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'q> {
    Int(Option<i64>),
    Int32(Option<i32>),
    Bool(Option<bool>),
    Text(Option<Cow<'q, str>>),
    Blob(Option<Cow<'q, [u8]>>),
    /// PostgreSQL arrays (`unnest($1::bigint[], …)`), so that a statement of many rows has
    /// one text whatever their number and is prepared once. SQLite has no arrays: binding
    /// one there is an error.
    Ints(Vec<i64>),
    Texts(Vec<String>),
    Blobs(Vec<Vec<u8>>),
}

/// A Rust value that binds as an [`Arg`].
pub(crate) trait IntoArg<'q> {
    /// The value as an argument.
    fn into_arg(self) -> Arg<'q>;
    /// A NULL of this type.
    fn null() -> Arg<'q>
    where
        Self: Sized;
}

impl<'q, T: IntoArg<'q>> From<T> for Arg<'q> {
    fn from(value: T) -> Self {
        value.into_arg()
    }
}

/// Implements [`IntoArg`] for a type that converts into one variant.
macro_rules! into_arg {
    ($($t:ty => $variant:ident, |$v:ident| $conv:expr;)*) => {$(
        impl<'q> IntoArg<'q> for $t {
            fn into_arg(self) -> Arg<'q> {
                let $v = self;
                Arg::$variant(Some($conv))
            }
            fn null() -> Arg<'q> {
                Arg::$variant(None)
            }
        }
    )*};
}

into_arg! {
    i64 => Int, |v| v;
    &'q i64 => Int, |v| *v;
    u32 => Int, |v| i64::from(v);
    i32 => Int32, |v| v;
    bool => Bool, |v| v;
    &'q bool => Bool, |v| *v;
    &'q str => Text, |v| Cow::Borrowed(v);
    &'q String => Text, |v| Cow::Borrowed(v.as_str());
    &'q &'q str => Text, |v| Cow::Borrowed(*v);
    String => Text, |v| Cow::Owned(v);
    &'q [u8] => Blob, |v| Cow::Borrowed(v);
    &'q Vec<u8> => Blob, |v| Cow::Borrowed(v.as_slice());
    Vec<u8> => Blob, |v| Cow::Owned(v);
}

impl<'q, T: IntoArg<'q>> IntoArg<'q> for Option<T> {
    fn into_arg(self) -> Arg<'q> {
        match self {
            Some(v) => v.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg<'q> {
        T::null()
    }
}

impl<'q> IntoArg<'q> for &'q Option<String> {
    fn into_arg(self) -> Arg<'q> {
        self.as_deref().into_arg()
    }
    fn null() -> Arg<'q> {
        Arg::Text(None)
    }
}

impl<'q> IntoArg<'q> for &'q Option<i64> {
    fn into_arg(self) -> Arg<'q> {
        (*self).into_arg()
    }
    fn null() -> Arg<'q> {
        Arg::Int(None)
    }
}

fn encode(e: sqlx::error::BoxDynError) -> sqlx::Error {
    sqlx::Error::Encode(e)
}

fn sqlite_args<'q>(args: Vec<Arg<'q>>) -> Result<SqliteArguments<'q>, sqlx::Error> {
    let mut out = SqliteArguments::default();
    for a in args {
        match a {
            Arg::Int(v) => out.add(v),
            Arg::Int32(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Blob(Some(Cow::Borrowed(v))) => out.add(v),
            Arg::Blob(Some(Cow::Owned(v))) => out.add(v),
            Arg::Blob(None) => out.add(None::<&[u8]>),
            Arg::Ints(_) | Arg::Texts(_) | Arg::Blobs(_) => {
                return Err(sqlx::Error::Protocol(
                    "an array argument is bound on SQLite, which has none".into(),
                ))
            }
        }
        .map_err(encode)?;
    }
    Ok(out)
}

fn pg_args(args: Vec<Arg<'_>>) -> Result<PgArguments, sqlx::Error> {
    let mut out = PgArguments::default();
    out.reserve(args.len(), 0);
    for a in args {
        match a {
            Arg::Int(v) => out.add(v),
            Arg::Int32(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v.as_deref()),
            Arg::Blob(v) => out.add(v.as_deref()),
            Arg::Ints(v) => out.add(v),
            Arg::Texts(v) => out.add(v),
            Arg::Blobs(v) => out.add(v),
        }
        .map_err(encode)?;
    }
    Ok(out)
}

/// A result row of either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

/// A Rust type both backends decode a column into.
pub(crate) trait Col:
    for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Postgres>
    + sqlx::Type<Postgres>
{
}

impl<T> Col for T where
    T: for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

/// A column name or position on both backends.
pub(crate) trait Index:
    sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + std::fmt::Debug
{
}

impl<I> Index for I where
    I: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> + std::fmt::Debug
{
}

impl Row {
    /// Column `index` decoded as `T`.
    pub(crate) fn get<T: Col, I: Index>(&self, index: I) -> Result<T, Error> {
        match self {
            Row::Sqlite(r) => sqlx::Row::try_get(r, index),
            Row::Postgres(r) => sqlx::Row::try_get(r, index),
        }
        .map_err(db)
    }
}

/// A Rust type both backends build from a whole row (tuples of [`Col`]s).
pub(crate) trait FromRow:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> FromRow for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// What a statement did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows: u64,
}

impl Done {
    /// The number of rows inserted, updated or deleted.
    pub(crate) fn rows_affected(self) -> u64 {
        self.rows
    }
}

/// A statement with its arguments.
#[must_use]
pub(crate) struct Query<'q> {
    sql: &'q str,
    args: Vec<Arg<'q>>,
    persistent: bool,
}

/// A statement with its arguments.
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
        persistent: true,
    }
}

/// A statement whose rows are one value each, of type `T`.
pub(crate) fn query_scalar<T: Col + Send + Unpin>(sql: &str) -> Scalar<'_, T> {
    Scalar {
        query: query(sql),
        out: PhantomData,
    }
}

/// A statement whose rows become values of type `T` (tuples).
pub(crate) fn query_as<T: FromRow>(sql: &str) -> As<'_, T> {
    As {
        query: query(sql),
        out: PhantomData,
    }
}

/// Runs `$body` once per executor kind, with `$q` built as `$make(sql, args)` for it.
macro_rules! run {
    ($query:expr, $ex:expr, |$q:ident, $e:ident| $body:expr, $make:path) => {{
        let Query {
            sql,
            args,
            persistent,
        } = $query;
        match $ex.into() {
            Ex::Sqlite($e) => {
                let $q = $make(sql, sqlite_args(args)?).persistent(persistent);
                $body
            }
            Ex::SqlitePool($e) => {
                let $q = $make(sql, sqlite_args(args)?).persistent(persistent);
                $body
            }
            Ex::Postgres($e) => {
                let $q = $make(sql, pg_args(args)?).persistent(persistent);
                $body
            }
            Ex::PgPool($e) => {
                let $q = $make(sql, pg_args(args)?).persistent(persistent);
                $body
            }
        }
    }};
}

impl<'q> Query<'q> {
    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl IntoArg<'q>) -> Self {
        self.args.push(value.into_arg());
        self
    }

    /// Binds the next placeholders in order.
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Arg<'q>>) -> Self {
        self.args.extend(values);
        self
    }

    /// Whether the statement is prepared once and cached (the default) or planned afresh.
    pub(crate) fn persistent(mut self, yes: bool) -> Self {
        self.persistent = yes;
        self
    }

    /// Runs the statement.
    pub(crate) async fn execute<'e>(self, ex: impl Into<Ex<'e>>) -> Result<Done, sqlx::Error> {
        let rows = run!(
            self,
            ex,
            |q, e| q.execute(e).await?.rows_affected(),
            sqlx::query_with
        );
        Ok(Done { rows })
    }

    /// Every row.
    pub(crate) async fn fetch_all<'e>(
        self,
        ex: impl Into<Ex<'e>>,
    ) -> Result<Vec<Row>, sqlx::Error> {
        Ok(run!(
            self,
            ex,
            |q, e| q.fetch_all(e).await?.into_iter().map(Row::from).collect(),
            sqlx::query_with
        ))
    }

    /// The one row; an error when there is none.
    pub(crate) async fn fetch_one<'e>(self, ex: impl Into<Ex<'e>>) -> Result<Row, sqlx::Error> {
        Ok(run!(
            self,
            ex,
            |q, e| q.fetch_one(e).await?.into(),
            sqlx::query_with
        ))
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'e>(
        self,
        ex: impl Into<Ex<'e>>,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(run!(
            self,
            ex,
            |q, e| q.fetch_optional(e).await?.map(Row::from),
            sqlx::query_with
        ))
    }

    /// The rows one at a time, as the database sends them.
    pub(crate) fn fetch<'e>(self, ex: impl Into<Ex<'e>>) -> Rows<'e>
    where
        'q: 'e,
    {
        let Query {
            sql,
            args,
            persistent,
        } = self;
        match ex.into() {
            Ex::Sqlite(e) => match sqlite_args(args) {
                Ok(a) => Rows::Sqlite(sqlx::query_with(sql, a).persistent(persistent).fetch(e)),
                Err(err) => Rows::Failed(Some(err)),
            },
            Ex::SqlitePool(e) => match sqlite_args(args) {
                Ok(a) => Rows::Sqlite(sqlx::query_with(sql, a).persistent(persistent).fetch(e)),
                Err(err) => Rows::Failed(Some(err)),
            },
            Ex::Postgres(e) => match pg_args(args) {
                Ok(a) => Rows::Postgres(sqlx::query_with(sql, a).persistent(persistent).fetch(e)),
                Err(err) => Rows::Failed(Some(err)),
            },
            Ex::PgPool(e) => match pg_args(args) {
                Ok(a) => Rows::Postgres(sqlx::query_with(sql, a).persistent(persistent).fetch(e)),
                Err(err) => Rows::Failed(Some(err)),
            },
        }
    }
}

impl From<SqliteRow> for Row {
    fn from(r: SqliteRow) -> Self {
        Row::Sqlite(r)
    }
}

impl From<PgRow> for Row {
    fn from(r: PgRow) -> Self {
        Row::Postgres(r)
    }
}

/// A stream of rows from [`Query::fetch`].
pub(crate) enum Rows<'e> {
    Sqlite(futures_util::stream::BoxStream<'e, Result<SqliteRow, sqlx::Error>>),
    Postgres(futures_util::stream::BoxStream<'e, Result<PgRow, sqlx::Error>>),
    /// The arguments could not be encoded: the error, then the end.
    Failed(Option<sqlx::Error>),
}

impl Rows<'_> {
    /// The next row, or `None` at the end.
    pub(crate) async fn try_next(&mut self) -> Result<Option<Row>, sqlx::Error> {
        match self {
            Rows::Sqlite(s) => Ok(s.try_next().await?.map(Row::Sqlite)),
            Rows::Postgres(s) => Ok(s.try_next().await?.map(Row::Postgres)),
            Rows::Failed(e) => match e.take() {
                Some(e) => Err(e),
                None => Ok(None),
            },
        }
    }
}

/// A statement whose rows are single values; see [`query_scalar`].
#[must_use]
pub(crate) struct Scalar<'q, T> {
    query: Query<'q>,
    out: PhantomData<fn() -> T>,
}

impl<'q, T: Col + Send + Unpin> Scalar<'q, T> {
    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl IntoArg<'q>) -> Self {
        self.query = self.query.bind(value);
        self
    }

    /// Binds the next placeholders in order.
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Arg<'q>>) -> Self {
        self.query = self.query.bind_all(values);
        self
    }

    /// Whether the statement is prepared once and cached (the default) or planned afresh.
    pub(crate) fn persistent(mut self, yes: bool) -> Self {
        self.query = self.query.persistent(yes);
        self
    }

    /// Every row's value.
    pub(crate) async fn fetch_all<'e>(self, ex: impl Into<Ex<'e>>) -> Result<Vec<T>, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_all(e).await?,
            sqlx::query_scalar_with
        ))
    }

    /// The one row's value; an error when there is none.
    pub(crate) async fn fetch_one<'e>(self, ex: impl Into<Ex<'e>>) -> Result<T, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_one(e).await?,
            sqlx::query_scalar_with
        ))
    }

    /// The first row's value, if any.
    pub(crate) async fn fetch_optional<'e>(
        self,
        ex: impl Into<Ex<'e>>,
    ) -> Result<Option<T>, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_optional(e).await?,
            sqlx::query_scalar_with
        ))
    }
}

/// A statement whose rows become tuples; see [`query_as`].
#[must_use]
pub(crate) struct As<'q, T> {
    query: Query<'q>,
    out: PhantomData<fn() -> T>,
}

impl<'q, T: FromRow> As<'q, T> {
    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl IntoArg<'q>) -> Self {
        self.query = self.query.bind(value);
        self
    }

    /// Binds the next placeholders in order.
    pub(crate) fn bind_all(mut self, values: impl IntoIterator<Item = Arg<'q>>) -> Self {
        self.query = self.query.bind_all(values);
        self
    }

    /// Every row.
    pub(crate) async fn fetch_all<'e>(self, ex: impl Into<Ex<'e>>) -> Result<Vec<T>, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_all(e).await?,
            sqlx::query_as_with
        ))
    }

    /// The one row; an error when there is none.
    pub(crate) async fn fetch_one<'e>(self, ex: impl Into<Ex<'e>>) -> Result<T, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_one(e).await?,
            sqlx::query_as_with
        ))
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'e>(
        self,
        ex: impl Into<Ex<'e>>,
    ) -> Result<Option<T>, sqlx::Error> {
        Ok(run!(
            self.query,
            ex,
            |q, e| q.fetch_optional(e).await?,
            sqlx::query_as_with
        ))
    }
}
