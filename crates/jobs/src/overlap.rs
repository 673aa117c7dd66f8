//! Calls and merges that overlap: while a merge waits on Postgres the calls go on, so the API budget, not
//! the database, sets a job's pace.

use futures::{Stream, StreamExt};

use super::engine::SyncError;

/// Answers that wait for a merge, in the order they arrived.
pub(crate) type Answers<T> = tokio::sync::mpsc::Receiver<Result<T, SyncError>>;

/// Runs `merge` over `answers` while the stream keeps its calls in flight; at most `waiting` answers wait
/// for a merge. The merge ends first on an error (dropping the stream and its calls in flight) or after the
/// last answer.
pub(crate) async fn merge_while_fetching<T, M>(
    answers: impl Stream<Item = Result<T, SyncError>>,
    waiting: usize,
    merge: impl FnOnce(Answers<T>) -> M,
) -> Result<(), SyncError>
where
    M: std::future::Future<Output = Result<(), SyncError>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel(waiting.max(1));
    let fetch = async move {
        let mut answers = std::pin::pin!(answers);
        while let Some(answer) = answers.next().await {
            if tx.send(answer).await.is_err() {
                break;
            }
        }
    };
    let merged = merge(rx);
    tokio::pin!(fetch, merged);
    tokio::select! {
        result = &mut merged => result,
        () = &mut fetch => merged.await,
    }
}
