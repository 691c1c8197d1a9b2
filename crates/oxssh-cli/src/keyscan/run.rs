//! The scan loop: one connection per (host, key type), many at once, each result printed
//! as soon as it arrives (so output order is completion order, as with ssh-keyscan).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use super::args::{Family, Options};
use super::keytype::KeyType;
use super::output::{comment_line, key_lines, Printer};
use super::scan::{scan, ScanError, ScanResult};
use super::targets::{HostSpec, Target};

/// Most connections open at once: ssh-keyscan's cap (256 descriptors less 10 spare).
pub const MAX_CONNECTIONS: usize = 246;

/// Scans every target for every key type; true if at least one key was printed
/// (ssh-keyscan's exit status is 0 then, 1 otherwise).
pub async fn run(opts: Arc<Options>, specs: Vec<HostSpec>) -> bool {
    let printer = Printer {
        quiet: opts.quiet,
        verbosity: opts.verbosity,
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = JoinSet::new();
    let mut found = false;
    for spec in &specs {
        for target in spec.targets() {
            for &key_type in &opts.key_types {
                // Waiting for a slot before spawning keeps a huge CIDR range from
                // queueing millions of tasks.
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return found;
                };
                while let Some(done) = tasks.try_join_next() {
                    found |= finished(done, printer);
                }
                let opts = Arc::clone(&opts);
                let target = target.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    scan_target(&opts, &target, key_type, printer).await
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        found |= finished(done, printer);
    }
    found
}

fn finished(done: Result<bool, JoinError>, printer: Printer) -> bool {
    done.unwrap_or_else(|err| {
        printer.error(&format!("oxssh-keyscan: internal error: {err}"));
        false
    })
}

/// Tries the target's names in order, and each name's addresses in order, until one
/// scan succeeds (ssh-keyscan moves on to the next name of the addrlist likewise).
async fn scan_target(opts: &Options, target: &Target, key_type: KeyType, printer: Printer) -> bool {
    for name in &target.addrs {
        let addrs = match resolve(name, opts.port, opts.family).await {
            Ok(addrs) => addrs,
            Err(reason) => {
                printer.error(&format!("getaddrinfo {name}: {reason}"));
                continue;
            }
        };
        for addr in addrs {
            printer.debug(
                1,
                &format!("{name}: fetching {} key from {addr}", key_type.name()),
            );
            let algorithms = if opts.certificates {
                key_type.certificate_algorithms()
            } else {
                key_type.host_key_algorithms()
            };
            match scan(addr, algorithms, opts.timeout).await {
                Ok(result) => return report(opts, target, name, key_type, &result, printer),
                Err(err) if is_unreachable(&err) => {
                    printer.debug(1, &format!("{name}: {err}"));
                }
                Err(err) => {
                    // ssh-keyscan prints the banner comment for every connection that
                    // sent one, even when the exchange then fails.
                    if let Some(version) = err.server_version() {
                        printer.comment(&comment_line(name, opts.port, version));
                    }
                    printer.error(&format!("{name}: {err}"));
                }
            }
        }
    }
    false
}

/// Hosts that are down or silent: ssh-keyscan says nothing about them (a scan of a
/// thousand hosts would drown in such lines), so they are shown only with `-v`.
fn is_unreachable(err: &ScanError) -> bool {
    match err {
        ScanError::Timeout => true,
        ScanError::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}

/// Prints a verified result; false if the key cannot be printed.
fn report(
    opts: &Options,
    target: &Target,
    name: &str,
    key_type: KeyType,
    result: &ScanResult,
    printer: Printer,
) -> bool {
    printer.comment(&comment_line(name, opts.port, &result.server_version));
    let key = &result.host_key;
    if !key_type.matches(key) {
        printer.error(&format!(
            "{name}: server sent a {} key when asked for {}",
            key.key_type(),
            key_type.name()
        ));
        return false;
    }
    // ssh-keyscan prints a certificate alone, without the host name.
    let lines = match (&result.certificate, opts.certificates) {
        (Some(cert), true) => Ok(vec![cert.to_openssh_with_comment("")]),
        (None, true) => Err("server sent no certificate".to_owned()),
        (_, false) => key
            .to_openssh()
            .map_err(|err| err.to_string())
            .and_then(|text| {
                key_lines(&target.output_names, opts.port, opts.hash_hosts, &text)
                    .map_err(|err| err.to_string())
            }),
    };
    match lines {
        Ok(lines) => {
            printer.keys(&lines);
            true
        }
        Err(err) => {
            printer.error(&format!("{name}: {err}"));
            false
        }
    }
}

/// Resolves `name` (getaddrinfo, through tokio's blocking pool) and keeps the addresses
/// of the `-4`/`-6` family. Errors read like getaddrinfo's `gai_strerror()`.
async fn resolve(name: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>, String> {
    let found = tokio::net::lookup_host((name, port))
        .await
        .map_err(|err| super::os_message(&err))?;
    let addrs: Vec<SocketAddr> = found
        .filter(|addr| match family {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() {
        return Err(if name.parse::<IpAddr>().is_ok() {
            "Address family for hostname not supported".into()
        } else {
            "Name or service not known".into()
        });
    }
    Ok(addrs)
}
