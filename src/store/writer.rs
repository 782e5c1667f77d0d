//! Group commit: commands that arrive together are written in one transaction and made
//! durable by one commit (one fsync), instead of one each.
//!
//! A single writer task takes whatever is queued, runs each piece of work inside its own
//! savepoint (a failure rolls back that piece only), commits once, and only then answers
//! each caller: nothing is acknowledged before the commit that holds it is on disk. Work
//! that failed is answered at once, since nothing of it will be committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::Tx;

/// A boxed future borrowing for `'a` (the transaction a piece of work runs in).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The most pieces of work in one transaction: enough to amortise the fsync, few enough
/// that the first of them is not kept waiting long for the last.
const MAX_BATCH: usize = 256;

/// The database failed the whole batch (begin or commit): each caller hears why, as a
/// database error (so it is told as one).
#[derive(Debug, Clone)]
pub struct DatabaseError(pub String);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DatabaseError {}

/// Called with the commit's outcome.
type Settle = Box<dyn FnOnce(Result<(), DatabaseError>) + Send>;

/// Where a piece leaves the batch's transaction.
enum After {
    /// It succeeded; its savepoint is still open.
    Open,
    /// It failed and its work was rolled back; no savepoint is open.
    Closed,
    /// It failed and rolling its work back failed too: what it wrote may still be in the
    /// transaction, so the whole batch must not be committed.
    Broken(String),
}

/// One piece of work in a batch.
trait Piece: Send {
    /// Runs in the batch's transaction, inside the savepoint the writer opened for it;
    /// returns what to do once the commit's outcome is known, and where that leaves the
    /// transaction.
    fn run<'a>(self: Box<Self>, tx: &'a mut Tx) -> BoxFuture<'a, (Settle, After)>;
    /// The batch could not start: answer with why.
    fn refuse(self: Box<Self>, why: DatabaseError);
}

struct Job<T, F> {
    work: F,
    answer: oneshot::Sender<anyhow::Result<T>>,
}

impl<T, F> Piece for Job<T, F>
where
    T: Send + 'static,
    F: for<'b> FnOnce(&'b mut Tx) -> BoxFuture<'b, anyhow::Result<T>> + Send + 'static,
{
    fn run<'a>(self: Box<Self>, tx: &'a mut Tx) -> BoxFuture<'a, (Settle, After)> {
        let Job { work, answer } = *self;
        Box::pin(async move {
            match in_savepoint(tx, work).await {
                Ok(value) => (
                    Box::new(move |commit: Result<(), DatabaseError>| {
                        let _ = answer.send(commit.map(|()| value).map_err(anyhow::Error::from));
                    }) as Settle,
                    After::Open,
                ),
                // Nothing of it will be committed: said at once.
                Err((e, after)) => {
                    let _ = answer.send(Err(e));
                    (Box::new(|_| {}) as Settle, after)
                }
            }
        })
    }

    fn refuse(self: Box<Self>, why: DatabaseError) {
        let _ = self.answer.send(Err(why.into()));
    }
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Piece>>,
    /// Transactions committed, for diagnostics and tests.
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer task on `pool`; it ends when every `Writer` is dropped.
    pub fn start(pool: sqlx::AnyPool) -> Writer {
        let (queue, rx) = mpsc::unbounded_channel();
        let commits = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(pool, rx, commits.clone()));
        Writer { queue, commits }
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` in the next group transaction; its result comes back once that
    /// transaction is committed (or at once, if the work itself failed).
    pub async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, anyhow::Result<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Box::new(Job { work, answer }))
            .map_err(|_| DatabaseError("the database writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| DatabaseError("the database writer stopped before answering".into()))?
    }
}

/// Opening a piece's savepoint: the first of a batch, and after a failed piece (whose
/// savepoint is gone).
const OPEN: &str = "SAVEPOINT sevbot_work";
/// Opening the next piece's savepoint after one that succeeded: releasing the last one
/// (keeping its work) and opening the next in one round trip to the database, since each
/// round trip is time the single writer holds it. The batch's last savepoint is never
/// released: COMMIT keeps everything in it.
const NEXT: &str = "RELEASE SAVEPOINT sevbot_work; SAVEPOINT sevbot_work";
/// Taking a failed piece's work back, and its savepoint with it.
const UNDO: &str = "ROLLBACK TO SAVEPOINT sevbot_work; RELEASE SAVEPOINT sevbot_work";

/// Runs `work` in the savepoint the writer opened for it, or rolls back to the savepoint
/// (and releases it) when it fails.
async fn in_savepoint<'a, T, F>(tx: &'a mut Tx, work: F) -> Result<T, (anyhow::Error, After)>
where
    F: for<'b> FnOnce(&'b mut Tx) -> BoxFuture<'b, anyhow::Result<T>>,
{
    // Outbox rows the work pushes are written together at its end, inside its savepoint.
    let (out, held) = super::outbox::holding(work(tx)).await;
    let out = match out {
        Ok(v) => super::outbox::write_held(tx, held).await.map(|()| v),
        Err(e) => Err(e),
    };
    match out {
        Ok(v) => Ok(v),
        Err(e) => match sqlx::raw_sql(UNDO).execute(&mut **tx).await {
            Ok(_) => Err((e, After::Closed)),
            Err(undo) => {
                let why = format!("rolling back a failed piece: {undo}");
                Err((e.context(why.clone()), After::Broken(why)))
            }
        },
    }
}

async fn run(
    pool: sqlx::AnyPool,
    mut queue: mpsc::UnboundedReceiver<Box<dyn Piece>>,
    commits: Arc<AtomicU64>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        metrics::histogram!("sevbot_group_commit_size").record(batch.len() as f64);
        let mut tx = match pool.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                let why = DatabaseError(format!("begin: {e}"));
                tracing::error!(error = %why, "could not begin a transaction");
                for piece in batch {
                    piece.refuse(why.clone());
                }
                continue;
            }
        };
        let mut settles = Vec::with_capacity(batch.len());
        // Whether the last piece's savepoint is still open.
        let mut open = false;
        let mut broken = None;
        let mut rest = batch.into_iter();
        for piece in rest.by_ref() {
            // The writer's time is what bounds durable throughput: measured per piece.
            let started = std::time::Instant::now();
            let opening = sqlx::raw_sql(if open { NEXT } else { OPEN });
            if let Err(e) = opening.execute(&mut *tx).await {
                // Not begun: nothing of it is in the transaction.
                piece.refuse(DatabaseError(format!("savepoint: {e}")));
                open = false;
                continue;
            }
            let (settle, after) = piece.run(&mut tx).await;
            settles.push(settle);
            metrics::histogram!("sevbot_write_seconds").record(started.elapsed().as_secs_f64());
            open = match after {
                After::Open => true,
                After::Closed => false,
                After::Broken(why) => {
                    broken = Some(why);
                    break;
                }
            };
        }
        let outcome = match broken {
            // Dropping the transaction rolls it back: the pieces before are told it failed,
            // those after were never run.
            Some(why) => {
                drop(tx);
                for piece in rest {
                    piece.refuse(DatabaseError(why.clone()));
                }
                Err(DatabaseError(why))
            }
            None => tx
                .commit()
                .await
                .map_err(|e| DatabaseError(format!("commit: {e}"))),
        };
        if outcome.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "a group commit failed; its commands are answered with the error");
        }
        for settle in settles {
            settle(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::Store;

    async fn insert(store: &Store, x: i64, fail: bool) -> anyhow::Result<i64> {
        store
            .write(move |tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (x) VALUES ($1)")
                        .bind(x)
                        .execute(&mut **tx)
                        .await?;
                    if fail {
                        anyhow::bail!("piece {x} failed after its insert");
                    }
                    if x == 0 {
                        // Keeps the writer busy, so the others queue behind it.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Ok(x)
                })
            })
            .await
    }

    /// A store on a fresh SQLite file with a table `t (x)` to write to (the file lives as
    /// long as the returned directory).
    async fn store_with_table() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = Store::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (x BIGINT NOT NULL)")
            .execute(&store.pool)
            .await
            .unwrap();
        (dir, store)
    }

    /// `insert` in a task of its own, so it queues while the test goes on.
    fn spawn_insert(store: &Store, x: i64) -> tokio::task::JoinHandle<anyhow::Result<i64>> {
        let s = store.clone();
        tokio::spawn(async move { insert(&s, x, false).await })
    }

    /// Writes that arrive while the writer is busy share the next commit; a piece that
    /// fails takes back only its own writes; each caller hears its own result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_arriving_together_share_a_commit_and_fail_alone() {
        let (_dir, store) = store_with_table().await;
        let before = store.group_commits();
        let first = spawn_insert(&store, 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut rest = vec![];
        for x in 1..=20 {
            let s = store.clone();
            rest.push(tokio::spawn(async move { insert(&s, x, x == 7).await }));
        }
        assert_eq!(first.await.unwrap().unwrap(), 0);
        for (i, r) in rest.into_iter().enumerate() {
            let x = i as i64 + 1;
            match r.await.unwrap() {
                Ok(v) => assert_eq!(v, x),
                Err(e) => {
                    assert_eq!(x, 7, "{e}");
                    assert!(e.to_string().contains("piece 7 failed"));
                }
            }
        }
        let rows: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        let want: Vec<i64> = (0..=20).filter(|x| *x != 7).collect();
        assert_eq!(
            rows, want,
            "the failed piece's insert is rolled back, no one else's"
        );
        let commits = store.group_commits() - before;
        assert!(
            commits <= 2,
            "21 writes, {commits} commits: the 20 queued behind the first share one"
        );
    }

    /// A piece whose rollback itself fails (here it released its own savepoint, so there is
    /// nothing to roll back to) may have left its writes in the transaction: the whole
    /// batch is then rolled back and every piece in it told, rather than committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_piece_that_cannot_be_rolled_back_fails_its_batch() {
        let (_dir, store) = store_with_table().await;
        let busy = spawn_insert(&store, 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Queued behind the busy one, so the three share the next batch.
        let before = spawn_insert(&store, 1);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let breaking = tokio::spawn({
            let s = store.clone();
            async move {
                s.write::<(), _>(|tx| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (x) VALUES (2)")
                            .execute(&mut **tx)
                            .await?;
                        sqlx::raw_sql("RELEASE SAVEPOINT sevbot_work")
                            .execute(&mut **tx)
                            .await?;
                        anyhow::bail!("piece 2 failed with its savepoint gone")
                    })
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let after = spawn_insert(&store, 3);
        assert_eq!(busy.await.unwrap().unwrap(), 0);
        let e = breaking.await.unwrap().unwrap_err();
        assert!(format!("{e:#}").contains("piece 2 failed"), "{e:#}");
        assert!(
            before.await.unwrap().is_err(),
            "its batch was not committed"
        );
        assert!(after.await.unwrap().is_err(), "its batch was not committed");
        let rows: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows, vec![0], "nothing of the broken batch was committed");
        // The writer goes on.
        assert_eq!(insert(&store, 4, false).await.unwrap(), 4);
    }
}
