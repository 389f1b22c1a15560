//! SQLite's read connections, lent without sqlx's pool.
//!
//! sqlx's pool pings every connection it takes back (and, by default, before lending it
//! again). For SQLite a ping is a round trip to the connection's worker thread — two thread
//! wake-ups — and a read is one round trip itself, so the pool tripled the hand-overs of
//! every read (measured: bench S4, where the pings were 7 % of the process's CPU). A local
//! file cannot go stale as a network connection can, so these connections are lent and
//! taken back as they are; a read abandoned midway is safe too, because a connection runs
//! its commands in order and stops a read whose receiver is gone. What the ping would have
//! caught — a connection whose worker thread is gone, or whose file fails to read — shows
//! in the read's own error, and such a connection is closed instead of kept
//! ([`Lent::give_back`]).

use std::sync::{Arc, Mutex};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::ConnectOptions;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `max` read connections, opened when first needed and kept.
#[derive(Clone)]
pub struct ReadConnections {
    shared: Arc<Shared>,
}

struct Shared {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for ReadConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadConnections")
            .field("available", &self.shared.permits.available_permits())
            .finish()
    }
}

impl ReadConnections {
    pub fn new(options: SqliteConnectOptions, max: u32) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max.max(1) as usize)),
            }),
        }
    }

    /// A connection of its own until the returned guard is dropped; waits while all are lent.
    pub async fn lend(&self) -> sqlx::Result<Lent> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.shared.idle.lock().expect("idle list").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.shared.options.connect().await?,
        };
        Ok(Lent {
            conn: Some(conn),
            home: self.shared.clone(),
            _permit: permit,
        })
    }
}

/// A lent read connection; back to the idle list when dropped (or by [`Lent::give_back`]).
pub struct Lent {
    conn: Option<SqliteConnection>,
    home: Arc<Shared>,
    // Released after `drop` below has put the connection back.
    _permit: OwnedSemaphorePermit,
}

impl Lent {
    /// Gives the connection back after a read that ended with `result`, and passes the
    /// result on — or closes the connection, when the error says it is broken, so the next
    /// read opens a fresh one.
    pub fn give_back<T>(mut self, result: sqlx::Result<T>) -> sqlx::Result<T> {
        if matches!(result, Err(sqlx::Error::WorkerCrashed | sqlx::Error::Io(_))) {
            drop(self.conn.take());
        }
        result
    }
}

impl std::ops::Deref for Lent {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().expect("lent connection")
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("lent connection")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Ok(mut idle) = self.home.idle.lock() {
                idle.push(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use futures::StreamExt;
    use sqlx::{Executor, Row};

    use super::*;

    /// A database file of its own, removed afterwards.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Self(std::env::temp_dir().join(format!(
                "kendrix-readers-{name}-{}-{nanos}.db",
                std::process::id()
            )))
        }

        fn options(&self) -> SqliteConnectOptions {
            SqliteConnectOptions::from_str(&format!("sqlite://{}", self.0.display()))
                .expect("url")
                .create_if_missing(true)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[tokio::test]
    async fn a_read_abandoned_midway_leaves_its_connection_usable() {
        let scratch = Scratch::new("abandoned");
        let readers = ReadConnections::new(scratch.options(), 1);
        {
            let mut conn = readers.lend().await.unwrap();
            conn.execute(
                "CREATE TABLE n (v INTEGER); \
                 WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c WHERE v < 10000) \
                 INSERT INTO n SELECT v FROM c",
            )
            .await
            .unwrap();
        }
        {
            // The reader stops after one row of ten thousand and gives the connection back.
            let mut conn = readers.lend().await.unwrap();
            let mut rows = sqlx::query("SELECT v FROM n ORDER BY v").fetch(&mut *conn);
            let first = rows.next().await.expect("a first row").expect("read");
            assert_eq!(first.get::<i64, _>(0), 1);
        }
        // The same (only) connection answers the next read in full.
        let mut conn = readers.lend().await.unwrap();
        let row = sqlx::query("SELECT count(*), sum(v) FROM n")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>(0), 10_000);
        assert_eq!(row.get::<i64, _>(1), 50_005_000);
    }

    #[tokio::test]
    async fn a_connection_that_broke_is_closed_and_the_next_read_opens_another() {
        let scratch = Scratch::new("broken");
        let readers = ReadConnections::new(scratch.options(), 1);
        let conn = readers.lend().await.unwrap();
        let _ = conn.give_back(sqlx::Result::<()>::Err(sqlx::Error::WorkerCrashed));
        assert_eq!(readers.shared.idle.lock().unwrap().len(), 0);
        // A plain failure (here, bad SQL) keeps the connection.
        let mut conn = readers.lend().await.unwrap();
        let failed = sqlx::query("SELECT nothing FROM nowhere")
            .fetch_all(&mut *conn)
            .await;
        assert!(conn.give_back(failed).is_err());
        assert_eq!(readers.shared.idle.lock().unwrap().len(), 1);
        assert_answers(readers.lend().await.unwrap()).await;
    }

    #[tokio::test]
    async fn no_more_than_the_maximum_are_lent_at_once() {
        let scratch = Scratch::new("maximum");
        let readers = ReadConnections::new(scratch.options(), 2);
        let first = readers.lend().await.unwrap();
        let _second = readers.lend().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(100), readers.lend()).await;
        assert!(
            third.is_err(),
            "a third connection was lent while two were out"
        );
        drop(first);
        assert_answers(readers.lend().await.unwrap()).await;
    }

    async fn assert_answers(mut conn: Lent) {
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
}
