//! TLS for outgoing calls: rustls with ring, installed once per process before any client
//! is built (reqwest is compiled without a built-in provider).

/// Install ring as the process-wide rustls provider; later calls do nothing.
pub fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
