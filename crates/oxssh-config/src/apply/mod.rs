//! Applying one keyword line to [`Options`]: the value-parsing half of OpenSSH's
//! `process_config_line` (the structural keywords `Host`, `Match` and `Include` live in
//! `reader.rs`).
//!
//! Every keyword is validated even when its line is inactive (so an error in a `Host` block
//! that does not apply is still an error, as in OpenSSH), and stored only when the line is
//! active and the option is still unset. Error texts are OpenSSH's.

use crate::algorithms::{first_unknown, valid_spec, AlgorithmLists, ListKind};
use crate::env::ConfigEnv;
use crate::error::{ConfigError, FatalKind};
use crate::expand::dollar_expand;
use crate::forward::{a2port, parse_forward, parse_jump, JumpSetting};
use crate::keyword::Keyword as K;
use crate::lexer::{skip_set, Args};
use crate::options::{set_first, Options};
use crate::values::{
    convtime, parse_escape_char, parse_flag, parse_int, parse_ipqos, parse_tunnel_device,
    scan_scaled, valid_domain, valid_env_name, AddKeysMode, AddKeysToAgent, AddressFamily,
    CanonicalizeHostname, ControlMaster, ControlPersist, Digest, LogLevel, PubkeyAuthentication,
    RequestTty, SessionType, StrictHostKeyChecking, SyslogFacility, Tunnel, YesNoAsk,
};

mod compound;
use compound::*;

/// Most identity or certificate files OpenSSH accepts.
const MAX_IDENTITY_FILES: usize = 100;
/// Most known-hosts files OpenSSH accepts per keyword.
const MAX_HOSTS_FILES: usize = 32;
/// Most `CanonicalDomains` / `CanonicalizePermittedCNAMEs` entries.
const MAX_CANON_DOMAINS: usize = 32;

/// Why a line was rejected.
#[derive(Debug)]
pub(crate) enum LineError {
    /// A bad line: these messages are printed and the line counts as bad.
    Bad(Vec<String>),
    /// Processing stops.
    Fatal(ConfigError),
}

/// What the keyword handlers need to know about the line.
pub(crate) struct LineCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    /// The keyword as written, lower-cased.
    pub(crate) keyword: &'a str,
    /// The raw text after the keyword.
    pub(crate) rest: &'a str,
    pub(crate) active: bool,
    /// Whether this is user configuration (command line, `-F`, `~/.ssh/config`).
    pub(crate) user_conf: bool,
    pub(crate) env: &'a dyn ConfigEnv,
    pub(crate) algs: &'a AlgorithmLists,
}

impl LineCtx<'_> {
    /// `<file> line <n>: <text>`.
    pub(crate) fn msg(&self, text: &str) -> String {
        format!("{} line {}: {}", self.file, self.line, text)
    }

    /// A bad line with one message.
    pub(crate) fn bad(&self, text: &str) -> LineError {
        LineError::Bad(vec![self.msg(text)])
    }

    fn fatal(&self, text: &str) -> LineError {
        LineError::Fatal(ConfigError::fatal(
            FatalKind::PermitRemoteOpen,
            self.msg(text),
        ))
    }

    /// The rest of the line after any further whitespace and `=` (OpenSSH's `parse_command`).
    fn command_text(&self) -> &str {
        skip_set(self.rest, b" \t\r\n=")
    }
}

type R = Result<(), LineError>;

/// A yes/no or multi-state keyword: `parse` maps a spelling to a value.
fn multi<T>(
    slot: &mut Option<T>,
    parse: impl Fn(&str) -> Option<T>,
    a: &mut Args,
    c: &LineCtx,
) -> R {
    let arg = a.next_arg();
    let value = match arg.as_deref() {
        None | Some("") => {
            let shown = arg.as_deref().unwrap_or("(null)");
            return Err(LineError::Bad(vec![
                c.msg("missing argument."),
                c.msg(&format!("unsupported option \"{shown}\".")),
            ]));
        }
        Some(s) => parse(s).ok_or_else(|| c.bad(&format!("unsupported option \"{s}\".")))?,
    };
    set_first(slot, c.active, value);
    Ok(())
}

fn flag(slot: &mut Option<bool>, a: &mut Args, c: &LineCtx) -> R {
    multi(slot, parse_flag, a, c)
}

/// A time in seconds; `none` leaves the option unset.
fn time(slot: &mut Option<u32>, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("missing time value."));
    }
    if arg == "none" {
        return Ok(());
    }
    let v = convtime(&arg).ok_or_else(|| c.bad("invalid time value."))?;
    set_first(slot, c.active, v);
    Ok(())
}

fn int(slot: &mut Option<u32>, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg();
    let v = parse_int(arg.as_deref()).map_err(|e| c.bad(&format!("integer value {e}.")))?;
    set_first(slot, c.active, v);
    Ok(())
}

fn string(slot: &mut Option<String>, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("Missing argument."));
    }
    set_first(slot, c.active, arg);
    Ok(())
}

/// A command: the raw rest of the line, quotes and all.
fn command(slot: &mut Option<String>, a: &mut Args, c: &LineCtx) -> R {
    set_first(slot, c.active, c.command_text().to_string());
    a.consume_all();
    Ok(())
}

/// An algorithm list, validated against what the caller supports.
fn algorithms(slot: &mut Option<String>, kind: K, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("Missing argument."));
    }
    let (all, list_kind, what) = match kind {
        K::Ciphers => (&c.algs.ciphers.all, ListKind::Exact, "Bad SSH2 cipher spec"),
        K::Macs => (&c.algs.macs.all, ListKind::Exact, "Bad SSH2 MAC spec"),
        K::KexAlgorithms => (&c.algs.kex.all, ListKind::Exact, "Bad SSH2 KexAlgorithms"),
        _ => (&c.algs.key_types.all, ListKind::KeyTypes, "Bad key types"),
    };
    if !valid_spec(&arg, all, list_kind) {
        let mut lines = Vec::new();
        if kind == K::KexAlgorithms {
            // kex_names_valid() names the offending algorithm first.
            let names = arg.strip_prefix(['+', '^']).unwrap_or(&arg);
            if let Some(bad) = first_unknown(names, all) {
                lines.push(format!(
                    "Unsupported KEX algorithm \"{}\"",
                    crate::error::trunc(bad, 100)
                ));
            }
        }
        lines.push(c.msg(&format!("{what} '{arg}'.")));
        return Err(LineError::Bad(lines));
    }
    set_first(slot, c.active, arg);
    Ok(())
}

/// A list keyword where the first line that sets it wins and `none` must stand alone.
fn path_list(list: &mut Vec<String>, max: usize, a: &mut Args, c: &LineCtx) -> R {
    let was_empty = list.is_empty();
    let mut i = 0;
    while let Some(arg) = a.next_arg() {
        if arg.is_empty() {
            return Err(c.bad(&format!("keyword {} empty argument", c.keyword)));
        }
        if arg.eq_ignore_ascii_case("none") && (i > 0 || a.remaining() > 0) {
            return Err(c.bad(&format!(
                "keyword {} \"none\" argument must appear alone.",
                c.keyword
            )));
        }
        i += 1;
        if c.active && was_empty {
            if list.len() >= max {
                return Err(c.bad(&format!("too many {} entries.", c.keyword)));
            }
            list.push(arg);
        }
    }
    Ok(())
}

/// Applies one non-structural keyword. The caller checks for extra arguments afterwards.
pub(crate) fn apply(o: &mut Options, kw: K, a: &mut Args, c: &LineCtx) -> R {
    match kw {
        K::Ignored | K::Deprecated => a.consume_all(),
        K::Unsupported => {
            o.warnings
                .push(c.msg(&format!("Unsupported option \"{}\"", c.keyword)));
            a.consume_all();
        }
        K::ConnectTimeout => time(&mut o.connect_timeout, a, c)?,
        K::ForwardAgent => forward_agent(o, a, c)?,
        K::ForwardX11 => flag(&mut o.forward_x11, a, c)?,
        K::ForwardX11Trusted => flag(&mut o.forward_x11_trusted, a, c)?,
        K::ForwardX11Timeout => time(&mut o.forward_x11_timeout, a, c)?,
        K::GatewayPorts => flag(&mut o.gateway_ports, a, c)?,
        K::ExitOnForwardFailure => flag(&mut o.exit_on_forward_failure, a, c)?,
        K::PasswordAuthentication => flag(&mut o.password_authentication, a, c)?,
        K::KbdInteractiveAuthentication => flag(&mut o.kbd_interactive_authentication, a, c)?,
        K::KbdInteractiveDevices => string(&mut o.kbd_interactive_devices, a, c)?,
        K::PubkeyAuthentication => {
            multi(
                &mut o.pubkey_authentication,
                PubkeyAuthentication::parse,
                a,
                c,
            )?;
        }
        K::HostbasedAuthentication => flag(&mut o.hostbased_authentication, a, c)?,
        K::GssapiAuthentication
        | K::GssapiDelegateCredentials
        | K::GssapiKeyExchange
        | K::GssapiTrustDns
        | K::GssapiRenewalForcesRekey => {
            let mut v = None;
            flag(&mut v, a, c)?;
            if let Some(v) = v {
                o.gssapi
                    .entry(kw.name())
                    .or_insert_with(|| crate::values::flag_name(v).into());
            }
        }
        K::GssapiClientIdentity | K::GssapiServerIdentity | K::GssapiKexAlgorithms => {
            let mut v = None;
            string(&mut v, a, c)?;
            if let Some(v) = v {
                o.gssapi.entry(kw.name()).or_insert(v);
            }
        }
        K::BatchMode => flag(&mut o.batch_mode, a, c)?,
        K::CheckHostIp => flag(&mut o.check_host_ip, a, c)?,
        K::VerifyHostKeyDns => multi(&mut o.verify_host_key_dns, YesNoAsk::parse, a, c)?,
        K::StrictHostKeyChecking => {
            multi(
                &mut o.strict_host_key_checking,
                StrictHostKeyChecking::parse,
                a,
                c,
            )?;
        }
        K::Compression => multi(
            &mut o.compression,
            |s| match s.to_ascii_lowercase().as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
            a,
            c,
        )?,
        K::TcpKeepAlive => flag(&mut o.tcp_keep_alive, a, c)?,
        K::NoHostAuthenticationForLocalhost => {
            flag(&mut o.no_host_authentication_for_localhost, a, c)?;
        }
        K::NumberOfPasswordPrompts => int(&mut o.number_of_password_prompts, a, c)?,
        K::RekeyLimit => rekey_limit(o, a, c)?,
        K::IdentityFile | K::CertificateFile => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            if c.active {
                let (list, what) = if kw == K::IdentityFile {
                    (&o.identity_files, "identity")
                } else {
                    (&o.certificate_files, "certificate")
                };
                if list.len() >= MAX_IDENTITY_FILES {
                    return Err(c.bad(&format!(
                        "Too many {what} files specified (max {MAX_IDENTITY_FILES})."
                    )));
                }
                if kw == K::IdentityFile {
                    o.add_identity_file(&arg, c.user_conf);
                } else {
                    o.add_certificate_file(&arg, c.user_conf);
                }
            }
        }
        K::XAuthLocation => string(&mut o.xauth_location, a, c)?,
        K::User => string(&mut o.user, a, c)?,
        K::GlobalKnownHostsFile => {
            path_list(&mut o.global_known_hosts_files, MAX_HOSTS_FILES, a, c)?
        }
        K::UserKnownHostsFile => path_list(&mut o.user_known_hosts_files, MAX_HOSTS_FILES, a, c)?,
        K::HostName => string(&mut o.hostname, a, c)?,
        K::HostKeyAlias => string(&mut o.host_key_alias, a, c)?,
        K::PreferredAuthentications => string(&mut o.preferred_authentications, a, c)?,
        K::BindAddress => string(&mut o.bind_address, a, c)?,
        K::BindInterface => string(&mut o.bind_interface, a, c)?,
        K::Pkcs11Provider => string(&mut o.pkcs11_provider, a, c)?,
        K::SecurityKeyProvider => string(&mut o.security_key_provider, a, c)?,
        K::KnownHostsCommand => command(&mut o.known_hosts_command, a, c)?,
        K::ProxyCommand => {
            // A ProxyJump seen earlier (even `none`) shadows any ProxyCommand.
            if o.proxy_jump.is_some() {
                a.consume_all();
            } else {
                command(&mut o.proxy_command, a, c)?;
            }
        }
        K::ProxyJump => {
            let raw = c.command_text();
            let jump = parse_jump(raw, c.env).map_err(|mut lines| {
                lines.push(c.msg(&format!("Invalid ProxyJump \"{raw}\"")));
                LineError::Bad(lines)
            })?;
            if c.active && o.proxy_command.is_none() && o.proxy_jump.is_none() {
                if matches!(jump, JumpSetting::Hops(_)) {
                    // Stops a later ProxyCommand; cleared again when defaults are filled.
                    o.proxy_command = Some("none".into());
                }
                o.proxy_jump = Some(jump);
            }
            a.consume_all();
        }
        K::Port => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            let port = u16::try_from(a2port(&arg, c.env))
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| c.bad(&format!("Bad port '{arg}'.")))?;
            set_first(&mut o.port, c.active, port);
        }
        K::ConnectionAttempts => int(&mut o.connection_attempts, a, c)?,
        K::Ciphers => algorithms(&mut o.ciphers, kw, a, c)?,
        K::Macs => algorithms(&mut o.macs, kw, a, c)?,
        K::KexAlgorithms => algorithms(&mut o.kex_algorithms, kw, a, c)?,
        K::HostKeyAlgorithms => algorithms(&mut o.host_key_algorithms, kw, a, c)?,
        K::CaSignatureAlgorithms => algorithms(&mut o.ca_signature_algorithms, kw, a, c)?,
        K::HostbasedAcceptedAlgorithms => {
            algorithms(&mut o.hostbased_accepted_algorithms, kw, a, c)?;
        }
        K::PubkeyAcceptedAlgorithms => algorithms(&mut o.pubkey_accepted_algorithms, kw, a, c)?,
        K::LogLevel => {
            let arg = a.next_arg();
            let v = arg.as_deref().and_then(LogLevel::parse).ok_or_else(|| {
                c.bad(&format!(
                    "unsupported log level '{}'",
                    arg.as_deref().unwrap_or("<NONE>")
                ))
            })?;
            set_first(&mut o.log_level, c.active, v);
        }
        K::SyslogFacility => {
            let arg = a.next_arg();
            let v = arg
                .as_deref()
                .and_then(SyslogFacility::parse)
                .ok_or_else(|| {
                    c.bad(&format!(
                        "unsupported log facility '{}'",
                        arg.as_deref().unwrap_or("<NONE>")
                    ))
                })?;
            // OpenSSH sets this even from inactive lines.
            set_first(&mut o.syslog_facility, true, v);
        }
        K::LogVerbose => {
            let mut i = 0;
            while let Some(arg) = a.next_arg() {
                if arg.is_empty() {
                    return Err(c.bad(&format!("keyword {} empty argument", c.keyword)));
                }
                if arg.eq_ignore_ascii_case("none") && (i > 0 || a.remaining() > 0) {
                    return Err(c.bad(&format!(
                        "keyword {} \"none\" argument must appear alone.",
                        c.keyword
                    )));
                }
                i += 1;
                // As in OpenSSH, only the first value of the first line is kept.
                if c.active && o.log_verbose.is_empty() {
                    o.log_verbose.push(arg);
                }
            }
        }
        K::LocalForward | K::RemoteForward | K::DynamicForward => forward(o, kw, a, c)?,
        K::PermitRemoteOpen => permit_remote_open(o, a, c)?,
        K::ClearAllForwardings => flag(&mut o.clear_all_forwardings, a, c)?,
        K::EscapeChar => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            let v = parse_escape_char(&arg).ok_or_else(|| c.bad("Bad escape character."))?;
            set_first(&mut o.escape_char, c.active, v);
        }
        K::AddressFamily => multi(&mut o.address_family, AddressFamily::parse, a, c)?,
        K::EnableSshKeysign => flag(&mut o.enable_ssh_keysign, a, c)?,
        K::IdentitiesOnly => flag(&mut o.identities_only, a, c)?,
        K::ServerAliveInterval => time(&mut o.server_alive_interval, a, c)?,
        K::ServerAliveCountMax => int(&mut o.server_alive_count_max, a, c)?,
        K::SendEnv => send_env(o, a, c)?,
        K::SetEnv => set_env(o, a, c)?,
        K::ControlPath => string(&mut o.control_path, a, c)?,
        K::ControlMaster => multi(&mut o.control_master, ControlMaster::parse, a, c)?,
        K::ControlPersist => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing ControlPersist argument."));
            }
            let v = match arg.as_str() {
                "no" | "false" => ControlPersist::No,
                "yes" | "true" => ControlPersist::Yes,
                _ => match convtime(&arg) {
                    Some(0) => ControlPersist::Yes,
                    Some(t) => ControlPersist::Timeout(t),
                    None => return Err(c.bad("Bad ControlPersist argument.")),
                },
            };
            set_first(&mut o.control_persist, c.active, v);
        }
        K::HashKnownHosts => flag(&mut o.hash_known_hosts, a, c)?,
        K::Tunnel => multi(&mut o.tunnel, Tunnel::parse, a, c)?,
        K::TunnelDevice => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            let v = parse_tunnel_device(&arg).ok_or_else(|| c.bad("Bad tun device."))?;
            set_first(&mut o.tunnel_device, c.active, v);
        }
        K::LocalCommand => command(&mut o.local_command, a, c)?,
        K::PermitLocalCommand => flag(&mut o.permit_local_command, a, c)?,
        K::RemoteCommand => command(&mut o.remote_command, a, c)?,
        K::VisualHostKey => flag(&mut o.visual_host_key, a, c)?,
        K::IpQos => {
            let arg = a.next_arg();
            let bad =
                |s: Option<&str>| c.bad(&format!("Bad IPQoS value: {}", s.unwrap_or("(null)")));
            let first = arg
                .as_deref()
                .and_then(parse_ipqos)
                .ok_or_else(|| bad(arg.as_deref()))?;
            let second = match a.next_arg() {
                None => first,
                Some(s) => parse_ipqos(&s).ok_or_else(|| bad(Some(&s)))?,
            };
            set_first(&mut o.ip_qos, c.active, (first, second));
        }
        K::RequestTty => multi(&mut o.request_tty, RequestTty::parse, a, c)?,
        K::SessionType => multi(&mut o.session_type, SessionType::parse, a, c)?,
        K::StdinNull => flag(&mut o.stdin_null, a, c)?,
        K::ForkAfterAuthentication => flag(&mut o.fork_after_authentication, a, c)?,
        K::IgnoreUnknown => string(&mut o.ignore_unknown, a, c)?,
        K::ProxyUseFdpass => flag(&mut o.proxy_use_fdpass, a, c)?,
        K::CanonicalDomains => canonical_domains(o, a, c)?,
        K::CanonicalizePermittedCnames => permitted_cnames(o, a, c)?,
        K::CanonicalizeHostname => {
            multi(
                &mut o.canonicalize_hostname,
                CanonicalizeHostname::parse,
                a,
                c,
            )?;
        }
        K::CanonicalizeMaxDots => int(&mut o.canonicalize_max_dots, a, c)?,
        K::CanonicalizeFallbackLocal => flag(&mut o.canonicalize_fallback_local, a, c)?,
        K::StreamLocalBindMask => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing StreamLocalBindMask argument."));
            }
            // strtol(arg, &end, 8): leading octal digits; OpenSSH keeps the last value seen,
            // from active lines or not.
            let digits: String = arg
                .chars()
                .take_while(|ch| ('0'..='7').contains(ch))
                .collect();
            let v = u32::from_str_radix(&digits, 8)
                .ok()
                .filter(|v| *v <= 0o777)
                .ok_or_else(|| c.bad("Bad mask."))?;
            o.stream_local_bind_mask = Some(v);
        }
        K::StreamLocalBindUnlink => flag(&mut o.stream_local_bind_unlink, a, c)?,
        K::RevokedHostKeys => string(&mut o.revoked_host_keys, a, c)?,
        K::FingerprintHash => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            let v = Digest::parse(&arg)
                .ok_or_else(|| c.bad(&format!("Invalid hash algorithm \"{arg}\".")))?;
            set_first(&mut o.fingerprint_hash, c.active, v);
        }
        K::UpdateHostKeys => multi(&mut o.update_host_keys, YesNoAsk::parse, a, c)?,
        K::AddKeysToAgent => add_keys_to_agent(o, a, c)?,
        K::IdentityAgent => {
            let arg = a.next_arg().unwrap_or_default();
            if arg.is_empty() {
                return Err(c.bad("Missing argument."));
            }
            check_agent_path(&arg, c)?;
            set_first(&mut o.identity_agent, c.active, arg);
        }
        K::RequiredRsaSize => int(&mut o.required_rsa_size, a, c)?,
        K::EnableEscapeCommandline => flag(&mut o.enable_escape_commandline, a, c)?,
        // Handled by the reader; never reaches here.
        K::Host | K::Match | K::Include => {}
    }
    Ok(())
}
