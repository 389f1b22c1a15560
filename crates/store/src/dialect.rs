//! The two backends as one type parameter: the store is written once, as ordinary generic
//! code over `D: Dialect` ([`crate::SqlStore`]), and each backend implements `Dialect` in a
//! few lines (`sqlite.rs`, `postgres.rs`).
//!
//! Why a trait of our own rather than sqlx's `Database` alone: generic code over
//! `D: sqlx::Database` must prove, on every impl block, that `&mut D::Connection` is an
//! `Executor` (a higher-ranked bound), that `D::Arguments` are `IntoArguments`, that every
//! Rust type it binds is `Encode + Type` and every row type `FromRow` for `D` — five
//! where-clauses for one `INSERT … RETURNING`, some thirty for the whole store, repeated
//! in each family's module because Rust does not imply where-clauses. `Dialect` names
//! instead the few operations generic code needs (bind, run, fetch), and each backend
//! implements them with its concrete types, where those bounds hold without being written.
//! A value both drivers can bind is a [`Param`]; a row type both can decode, [`Decoded`].
//! (Items here are `pub` only so that `SqlStore`'s public impls may name them; the module is
//! private to the crate.)
//!
//! SQL text is shared: placeholders are `$N`, which sqlx binds by number on both drivers.

use std::future::Future;

use kendrix_core::sync::Record;
use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, FromRow, Pool, Postgres, QueryBuilder, Sqlite, Type};

use crate::sync::{RecordRow, StoredVersions};
use crate::{Backend, StoreError, StoreResult};

/// A Rust value both drivers can bind.
pub trait Param<'q>:
    'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

impl<'q, T> Param<'q> for T where
    T: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

/// A row type (a `sqlx::FromRow` struct or tuple) both drivers can decode.
pub trait Decoded:
    Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>
{
}

impl<T> Decoded for T where
    T: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>
{
}

/// Where a statement runs: inside a write transaction, on the read connections, or on the
/// write pool (the one write that needs no transaction).
pub enum On<'c, D: Dialect> {
    Tx(&'c mut D::Connection),
    Read(&'c D::Readers),
    Pool(&'c Pool<D>),
}

/// What a backend provides: the bridge from generic code to its driver, and the few
/// statements whose SQL differs.
pub trait Dialect: Database {
    const BACKEND: Backend;
    /// The statement that begins a write transaction (`None`: the driver's `BEGIN`).
    const BEGIN: Option<&'static str>;
    /// Reads the audit chain head so that appends never fork: a write transaction's appends
    /// line up behind whoever holds it.
    const LOCK_CHAIN_HEAD: &'static str;
    /// Appended to a `SELECT` to lock the rows it reads until commit (`""`: SQLite's one
    /// writer already holds everything).
    const ROW_LOCK: &'static str;
    /// Where reads run: a pool of their own (SQLite), or the one pool (PostgreSQL).
    type Readers: Clone + Send + Sync + std::fmt::Debug + 'static;

    fn bind<'q, T: Param<'q>>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        value: T,
    ) -> Query<'q, Self, Self::Arguments<'q>>;
    fn push_bind<'a, T: Param<'a>>(builder: &mut QueryBuilder<'a, Self>, value: T);
    fn push_separated_bind<'a, T: Param<'a>>(
        list: &mut Separated<'_, 'a, Self, &'static str>,
        value: T,
    );
    /// Runs a statement; the number of rows it changed.
    fn execute<'q, 'a: 'q>(
        query: Query<'q, Self, Self::Arguments<'a>>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;
    /// Runs a query; its rows, decoded.
    fn fetch_all<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Self, Self::Arguments<'a>>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<Vec<O>>> + Send;
    /// Runs a query for its first row only, decoded.
    fn fetch_optional<'q, 'a: 'q, O: Decoded>(
        query: Query<'q, Self, Self::Arguments<'a>>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<Option<O>>> + Send;

    /// Applies this backend's pending migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = StoreResult<()>> + Send;
    /// The stored versions of a batch's records, in one statement.
    fn stored_versions(
        conn: &mut Self::Connection,
        tenant_id: i64,
        records: &[Record],
    ) -> impl Future<Output = StoreResult<StoredVersions>> + Send;
    /// Upserts record rows (newer versions only) set-based; returns how many were written.
    fn upsert_records(
        conn: &mut Self::Connection,
        tenant_id: i64,
        client_pk: i64,
        batch_id: &str,
        at: i64,
        rows: &[RecordRow<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Adds the full-text condition of an audit query (`AND …`).
    fn push_text_search(select: &mut QueryBuilder<'_, Self>, text: &str);
}

/// A statement ready to run: built from SQL text with [`sql`] and `bind`, or from a
/// `QueryBuilder` (whose values are pushed with [`PushParam`]).
pub(crate) struct Statement<'q, 'a, D: Database>(Query<'q, D, D::Arguments<'a>>);

/// A statement from SQL text.
pub(crate) fn sql<D: Database>(text: &str) -> Statement<'_, '_, D> {
    Statement(sqlx::query(text))
}

impl<'q, 'a, D: Database> From<Query<'q, D, D::Arguments<'a>>> for Statement<'q, 'a, D> {
    fn from(query: Query<'q, D, D::Arguments<'a>>) -> Self {
        Statement(query)
    }
}

impl<'q, D: Dialect> Statement<'q, 'q, D> {
    /// Binds the next `$N`.
    pub(crate) fn bind<T: Param<'q>>(self, value: T) -> Self {
        Statement(D::bind(self.0, value))
    }
}

impl<'q, 'a: 'q, D: Dialect> Statement<'q, 'a, D> {
    /// Runs it; the number of rows it changed.
    pub(crate) async fn execute(self, on: On<'_, D>) -> StoreResult<u64> {
        Ok(D::execute(self.0, on).await?)
    }

    pub(crate) async fn fetch_all<O: Decoded>(self, on: On<'_, D>) -> StoreResult<Vec<O>> {
        Ok(D::fetch_all(self.0, on).await?)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<O: Decoded>(self, on: On<'_, D>) -> StoreResult<Option<O>> {
        Ok(D::fetch_optional(self.0, on).await?)
    }

    /// The one row; `RowNotFound` if there is none.
    pub(crate) async fn fetch_one<O: Decoded>(self, on: On<'_, D>) -> StoreResult<O> {
        self.fetch_optional(on)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
}

/// Pushes a bound value into a `QueryBuilder` or one of its separated lists (their own
/// `push_bind` would need the driver's bounds).
pub(crate) trait PushParam<'a> {
    fn push_param<T: Param<'a>>(&mut self, value: T) -> &mut Self;
}

impl<'a, D: Dialect> PushParam<'a> for QueryBuilder<'a, D> {
    fn push_param<T: Param<'a>>(&mut self, value: T) -> &mut Self {
        D::push_bind(self, value);
        self
    }
}

impl<'a, D: Dialect> PushParam<'a> for Separated<'_, 'a, D, &'static str> {
    fn push_param<T: Param<'a>>(&mut self, value: T) -> &mut Self {
        D::push_separated_bind(self, value);
        self
    }
}
