//! Serving the router: bind the listener, then plain HTTP or TLS (with organisation
//! certificates when configured), shutting down gracefully at cancel.

use super::StartError;
use crate::authenticate::certificate::PeerAcceptor;
use crate::config::HttpConfig;
use axum::Router;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long requests in flight may finish after cancel.
const GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `http.listen` until `cancel`; answers the address bound (useful with
/// port 0) and the server's task.
pub fn serve(
    http: &HttpConfig,
    app: Router,
    cancel: &CancellationToken,
) -> Result<(SocketAddr, JoinHandle<std::io::Result<()>>), StartError> {
    let bind = |source| StartError::Bind {
        addr: http.listen,
        source,
    };
    let listener = std::net::TcpListener::bind(http.listen).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let handle = axum_server::Handle::new();
    tokio::spawn({
        let (handle, cancel) = (handle.clone(), cancel.clone());
        async move {
            cancel.cancelled().await;
            handle.graceful_shutdown(Some(GRACE));
        }
    });
    let service = app.into_make_service();
    let server = axum_server::from_tcp(listener)
        .map_err(bind)?
        .handle(handle);
    let task = match &http.tls {
        None => tokio::spawn(server.serve(service)),
        Some(tls) => {
            let rustls = RustlsConfig::from_config(Arc::new(crate::tls::server_config(tls)?));
            tokio::spawn(crate::tls::reload(
                tls.clone(),
                rustls.clone(),
                cancel.clone(),
            ));
            let acceptor = RustlsAcceptor::new(rustls);
            match &tls.clients {
                Some(clients) => {
                    let acceptor = PeerAcceptor {
                        inner: acceptor,
                        attribute: clients.attribute.as_str().into(),
                    };
                    tokio::spawn(server.acceptor(acceptor).serve(service))
                }
                None => tokio::spawn(server.acceptor(acceptor).serve(service)),
            }
        }
    };
    tracing::info!(%addr, tls = http.tls.is_some(), "gateway listening");
    Ok((addr, task))
}
