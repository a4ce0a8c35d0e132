//! The accept loop. `axum::serve` has no header-read timeout and no connection cap, so a
//! slow-loris client (half a request, then silence) could hold sockets until file handles run
//! out. This loop gives every connection a deadline for its request head, caps open connections
//! (answering the excess with a bare 503), and shuts down gracefully within a bounded time.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::settings::Limits;
use crate::Shutdown;

/// What a connection over the cap gets before it is closed: no request is read.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 74\r\n\r\n{\"error\":{\"code\":\"overloaded\",\"message\":\"\xe6\x9c\x8d\xe5\x8a\xa1\xe7\xb9\x81\xe5\xbf\x99\xef\xbc\x8c\xe8\xaf\xb7\xe7\xa8\x8d\xe5\x90\x8e\xe9\x87\x8d\xe8\xaf\x95\"}}";

/// Serves `app` on `listener` until `shutdown` fires, then lets connections finish (event
/// streams are told to close by the same signal) for at most `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection task holds a receiver; when all are gone, every connection has closed.
    let (closed_tx, closed_rx) = watch::channel(());
    loop {
        let (mut tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on the error.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        jishi_platform::no_delay(&mut tcp);
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tokio::spawn(refuse(tcp));
            continue;
        };
        let app = app.clone();
        let shutdown = shutdown.clone();
        let closed_rx = closed_rx.clone();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            serve_connection(tcp, remote, app, header_timeout, shutdown).await;
            drop(permit);
            drop(closed_rx);
        });
    }
    drop(closed_rx);
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, closed_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open = closed_tx.receiver_count(),
            "connections still open after the grace period; closing them"
        );
    }
    Ok(())
}

async fn refuse(mut tcp: tokio::net::TcpStream) {
    let _ = tcp.write_all(OVER_CAPACITY).await;
    let _ = tcp.shutdown().await;
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Router,
    header_timeout: std::time::Duration,
    shutdown: Shutdown,
) {
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        app.clone().oneshot(request)
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(header_timeout));
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tcp), TowerToHyperService::new(service));
    let mut conn = std::pin::pin!(conn);
    let mut signalled = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = shutdown.wait(), if !signalled => {
                signalled = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
