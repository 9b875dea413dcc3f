//! The process's one async runtime. The AWS SDK and the GitHub client are
//! async; jit's core is not, so the shell drives both through [`block_on`].
//! One runtime and one TLS stack (rustls on aws-lc-rs, the SDK's own) serve
//! every client.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, built on first use. It also makes aws-lc-rs the
/// process's TLS provider, so clients that ask rustls for the default (the
/// GitHub client) use the same one as the SDK.
pub fn get() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        // Fails only when a provider is installed already: that one stays.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("jit-io")
            .enable_all()
            .build()
            .expect("cannot start the async runtime")
    })
}

/// Runs `future` to completion on the shared runtime. Never call it from
/// inside a task of that runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    get().block_on(future)
}
