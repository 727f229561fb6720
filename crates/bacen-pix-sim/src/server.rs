//! The API listener: TLS with a required client certificate (tokio-rustls), then HTTP/1.1 (hyper)
//! into the axum router. Each request carries the common name of the client certificate as a
//! [`ClientSubject`] extension, for the request log.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::tls;

/// The common name of the client certificate a request came with.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientSubject(pub(crate) Option<String>);

/// Accepts connections until `stopped` turns true; a failed handshake (no client certificate,
/// one from another CA) closes that connection only.
pub(crate) async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = until_stopped(stopped.clone()) => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let connection_stopped = stopped.clone();
        tokio::spawn(async move {
            let Ok(tls_stream) = acceptor.accept(stream).await else {
                return;
            };
            let subject = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|certificate| tls::common_name(certificate.as_ref()));
            let subject = ClientSubject(subject);
            let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(subject.clone());
                request
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls_stream), TowerToHyperService::new(service));
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = until_stopped(connection_stopped) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

/// Resolves once the stop flag turns true (or its sender is gone).
async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
