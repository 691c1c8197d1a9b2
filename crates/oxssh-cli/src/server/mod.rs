//! `oxsshd`: the SSH server. This step implements the "embedded default" mode only: no
//! config file, the user running it is the only user served, public keys from their
//! `~/.ssh/authorized_keys`, an ed25519 host key created on first start.

mod args;
mod auth;
mod conn;
mod daemon;
mod hostkey;
mod session;

use std::path::PathBuf;
use std::sync::Arc;

use oxssh_keys::HashAlg;
use oxssh_proto::crypto::{CryptoProvider, SigningKey};
use oxssh_proto::TransportConfig;

pub use args::{parse_args, Args, ArgsError};

/// Exit status for start-up failures and refused flags, as sshd.
pub const EXIT_FAILURE: i32 = 255;

/// The account served: the user running `oxsshd`.
#[derive(Debug, Clone)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// `HOME` (authorized_keys lives under it).
    pub home: PathBuf,
    /// The login shell (`$SHELL`, else `/bin/sh`).
    pub shell: PathBuf,
}

/// What every connection shares.
pub(crate) struct Context {
    pub transport: Arc<TransportConfig>,
    pub provider: Arc<CryptoProvider>,
    pub host_key: Arc<dyn SigningKey>,
    pub account: Account,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Runs `oxsshd` with the command line `argv` (without the program name); returns the
/// exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("oxsshd: {e}");
            return EXIT_FAILURE;
        }
    };
    init_logging(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxsshd: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oxsshd: {e}");
            EXIT_FAILURE
        }
    }
}

fn init_logging(args: &Args) {
    let level = if args.debug {
        "debug"
    } else if args.log_stderr {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXSSHD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn run(args: Args) -> Result<(), String> {
    let account = auth::current_account()?;
    let key_path = hostkey::default_path(&account.home)?;
    let host_key = hostkey::load_or_create(&key_path)?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let fingerprint = host_key.public_key().fingerprint(HashAlg::Sha256);
    println!(
        "oxsshd: listening on 127.0.0.1:{port} for user {}",
        account.name
    );
    println!(
        "oxsshd: host key {} {fingerprint} ({})",
        host_key.public_key().key_type(),
        key_path.display()
    );
    println!(
        "oxsshd: connect with: oxssh -p {port} {}@127.0.0.1",
        account.name
    );
    println!(
        "oxsshd:           or: ssh -p {port} {}@127.0.0.1",
        account.name
    );
    let ctx = Arc::new(Context {
        transport: Arc::new(TransportConfig::server_default()),
        provider: Arc::new(oxssh_crypto::default_provider()),
        host_key,
        account,
    });
    daemon::serve(listener, ctx)
        .await
        .map_err(|e| format!("listener failed: {e}"))
}
