//! `oxsftp` flags with OpenSSH 9.2 sftp's getopt string; the ones we do not implement
//! are refused by name.

use std::ffi::OsString;

/// sftp 9.2's usage text, with our program name.
pub const USAGE: &str = "\
usage: oxsftp [-46AaCfNpqrv] [-B buffer_size] [-b batchfile] [-c cipher]
          [-D sftp_server_command] [-F ssh_config] [-i identity_file]
          [-J destination] [-l limit] [-o ssh_option] [-P port]
          [-R num_requests] [-S program] [-s subsystem | sftp_server]
          destination
";

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The flags that are ssh's, as our options and as the ssh program's arguments.
    pub ssh: SshFlags,
    pub port: Option<u16>,
    /// `-b`: the batch file (`-` for stdin).
    pub batch: Option<String>,
    /// `-a`: resume transfers.
    pub resume: bool,
    /// `-f`: fsync after each upload.
    pub fsync: bool,
    /// `-p`: keep modes and times.
    pub preserve: bool,
    /// `-r`: recursive transfers.
    pub recursive: bool,
    /// `-q`: no progress meter, no informational messages.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-B`: bytes per request.
    pub buffer: Option<u32>,
    /// `-R`: requests in flight.
    pub requests: Option<usize>,
    /// `-l`: bandwidth limit in Kbit/s.
    pub limit_kbps: Option<u64>,
    /// `-s`: subsystem name, or a server program path (contains `/`).
    pub subsystem: Option<String>,
    /// `-S`: the ssh program to connect through instead of our own connection.
    pub program: Option<String>,
    /// `-A`: forward the agent (only through a `-S` program).
    pub forward_agent: bool,
    /// `-D`: a local SFTP server command to talk to instead of connecting.
    pub direct: Option<String>,
    pub destination: String,
}

/// The flags sftp and scp hand their ssh unchanged (`-4 -6 -C -c -F -i -o -J`, and
/// those each program records itself): our connection's options, and the ssh program's
/// arguments (for `-S` and scp's `-R`) in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshFlags {
    /// `-o` lines, and the flags that are ssh options, in order.
    pub options: Vec<String>,
    pub identity_files: Vec<String>,
    pub config_file: Option<String>,
    /// The ssh program's arguments.
    pub args: Vec<String>,
}

impl SshFlags {
    /// The flags [`SshFlags::take`] takes.
    pub const FLAGS: &'static str = "46CcFioJ";

    /// Takes `flag`, one of [`SshFlags::FLAGS`] (with its value from `parser`).
    pub fn take(&mut self, flag: char, parser: &mut lexopt::Parser) -> Result<(), String> {
        let mut value = || -> Result<String, String> {
            parser
                .value()
                .map_err(|e| e.to_string())?
                .into_string()
                .map_err(|_| "argument is not UTF-8".to_owned())
        };
        match flag {
            '4' => self.option("AddressFamily=inet".into(), &["-4"]),
            '6' => self.option("AddressFamily=inet6".into(), &["-6"]),
            'C' => self.option("Compression=yes".into(), &["-C"]),
            'c' => {
                let v = value()?;
                self.option(format!("Ciphers={v}"), &["-c", &v]);
            }
            'o' => {
                let v = value()?;
                self.option(v.clone(), &["-o", &v]);
            }
            'J' => {
                let v = value()?;
                let jump = jump_option(&self.options, &v)?;
                self.option(jump, &["-J", &v]);
            }
            'F' => {
                let v = value()?;
                self.args.extend(["-F".into(), v.clone()]);
                self.config_file = Some(v);
            }
            'i' => {
                let v = value()?;
                self.args.extend(["-i".into(), v.clone()]);
                self.identity_files.push(v);
            }
            _ => return Err(format!("-{flag} is not an ssh flag")),
        }
        Ok(())
    }

    /// An ssh option for our connection, and the ssh program's arguments for it.
    fn option(&mut self, option: String, args: &[&str]) {
        self.options.push(option);
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
    }
}

/// The ssh option `-J hops` stands for, after `options` (the `-o` options and flags
/// before it): sftp and scp hand `-J` to ssh, which takes it as `ProxyJump` (shadowing
/// a configured ProxyCommand) and refuses it after another jump host or a ProxyCommand
/// on its command line, with these messages.
pub fn jump_option(options: &[String], hops: &str) -> Result<String, String> {
    let given = |name: &str| {
        options.iter().any(|o| {
            o.split(|c: char| c == '=' || c.is_whitespace())
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(name))
        })
    };
    if given("ProxyJump") {
        return Err(
            "Only a single -J option is permitted (use commas to separate multiple jump hops)"
                .into(),
        );
    }
    if given("ProxyCommand") {
        return Err("Cannot specify -J with ProxyCommand".into());
    }
    Ok(format!("ProxyJump={hops}"))
}

/// `Err(message)`: print it (and the usage) and exit 1.
pub fn parse(argv: Vec<OsString>) -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut args = Args::default();
    let mut parser = lexopt::Parser::from_args(argv);
    let text = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| "argument is not UTF-8".to_owned())
    };
    let mut destination = None;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short(c) if SshFlags::FLAGS.contains(c) => args.ssh.take(c, &mut parser)?,
            Short('a') => args.resume = true,
            Short('f') => args.fsync = true,
            Short('N') => {}
            Short('p') => args.preserve = true,
            Short('q') => {
                args.quiet = true;
                args.ssh.args.push("-q".into());
            }
            Short('r') => args.recursive = true,
            Short('v') => {
                if args.verbose < 3 {
                    args.ssh.args.push("-v".into());
                }
                args.verbose = args.verbose.saturating_add(1);
            }
            Short('B') => {
                args.buffer = Some(positive(&text(&mut parser)?, "Invalid buffer size \"{}\"")?);
            }
            Short('R') => {
                args.requests = Some(positive(
                    &text(&mut parser)?,
                    "Invalid number of requests \"{}\"",
                )?);
            }
            Short('l') => {
                args.limit_kbps = Some(positive(&text(&mut parser)?, "Invalid limit \"{}\"")?);
            }
            Short('b') => {
                args.batch = Some(text(&mut parser)?);
                args.ssh.args.push("-obatchmode yes".into());
            }
            Short('P') => {
                args.port = Some(positive(&text(&mut parser)?, "Bad port \"{}\"")?);
            }
            Short('s') => args.subsystem = Some(text(&mut parser)?),
            Short('D') => args.direct = Some(text(&mut parser)?),
            Short('A') => {
                args.forward_agent = true;
                args.ssh.options.push("ForwardAgent=yes".into());
                args.ssh.args.push("-A".into());
            }
            Short('S') => args.program = Some(text(&mut parser)?),
            Value(v) if destination.is_none() => {
                destination = Some(
                    v.into_string()
                        .map_err(|_| "destination is not UTF-8".to_owned())?,
                );
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    if !args.forward_agent {
        // As sftp's `-oForwardAgent no` after the flags: a configured ForwardAgent
        // does not reach the SFTP session.
        args.ssh.options.push("ForwardAgent=no".into());
    }
    match destination {
        Some(d) => args.destination = d,
        None if args.direct.is_some() => {}
        None => return Err(String::new()),
    }
    if args.quiet {
        args.ssh.options.push("LogLevel=QUIET".into());
    } else if args.verbose > 0 {
        let level = match args.verbose {
            1 => "DEBUG1",
            2 => "DEBUG2",
            _ => "DEBUG3",
        };
        args.ssh.options.push(format!("LogLevel={level}"));
    }
    if args.batch.is_some() {
        args.ssh.options.push("BatchMode=yes".into());
    }
    Ok(args)
}

/// The command line sftp runs its ssh program (`-S`, else `ssh`) with to reach `dest`:
/// its fixed options, the ssh flags given, the port and user, then the subsystem (`-s`
/// unless the server is a program path).
pub fn ssh_command(args: &Args, dest: &Destination) -> Vec<String> {
    let mut argv: Vec<String> = [
        "-oForwardX11 no",
        "-oPermitLocalCommand no",
        "-oClearAllForwardings yes",
    ]
    .map(str::to_owned)
    .to_vec();
    argv.extend(args.ssh.args.iter().cloned());
    if !args.forward_agent {
        argv.push("-oForwardAgent no".into());
    }
    if let Some(port) = args.port.or(dest.port) {
        argv.push(format!("-oPort {port}"));
    }
    if let Some(user) = &dest.user {
        argv.extend(["-l".into(), user.clone()]);
    }
    let subsystem = args.subsystem.clone().unwrap_or_else(|| "sftp".into());
    if !subsystem.contains('/') {
        argv.push("-s".into());
    }
    argv.extend(["--".into(), dest.host.clone(), subsystem]);
    argv
}

/// A positive number from a flag's value; `message` (with `{}` for the value) otherwise,
/// as sftp and scp word it.
pub(crate) fn positive<T: std::str::FromStr + PartialOrd + Default>(
    value: &str,
    message: &str,
) -> Result<T, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| message.replacen("{}", value, 1))
}

/// `[user@]host[:path]` or `sftp://[user@]host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub path: Option<String>,
}

/// Splits a destination.
pub fn destination(text: &str) -> Result<Destination, String> {
    if let Some(rest) = text.strip_prefix("sftp://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(rest[i + 1..].to_owned())),
            None => (rest, None),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        return Ok(Destination {
            user,
            host,
            port,
            path: path.filter(|p| !p.is_empty()),
        });
    }
    let (user, rest) = match text.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_owned()), h),
        None => (None, text),
    };
    let (host, path) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("Invalid destination \"{text}\""))?;
        (host.to_owned(), after.strip_prefix(':').map(str::to_owned))
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (rest.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("Invalid destination \"{text}\""));
    }
    Ok(Destination {
        user,
        host,
        port: None,
        path: path.filter(|p| !p.is_empty()),
    })
}

fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("Invalid destination \"{text}\"");
    if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None => None,
        };
        return Ok((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_owned(), Some(p.parse().map_err(|_| bad())?))),
        None => Ok((text.to_owned(), None)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn argv(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_parse_as_sftp_does() {
        let a = parse(argv(&[
            "-P", "2222", "-i", "k", "-o", "User=x", "-rpa", "-B", "65536", "-b", "-", "h",
        ]))
        .unwrap();
        assert_eq!(a.port, Some(2222));
        assert!(a.recursive && a.preserve && a.resume);
        assert_eq!(a.buffer, Some(65536));
        assert_eq!(a.batch.as_deref(), Some("-"));
        assert!(a.ssh.options.contains(&"BatchMode=yes".to_owned()));
        assert_eq!(a.destination, "h");
        assert!(a.ssh.options.contains(&"ForwardAgent=no".to_owned()));
        let agent = parse(argv(&["-A", "h"])).unwrap();
        assert!(agent.forward_agent && agent.ssh.options.contains(&"ForwardAgent=yes".into()));
        let j = parse(argv(&["-J", "u@j:2,k", "h"])).unwrap();
        assert!(j.ssh.options.contains(&"ProxyJump=u@j:2,k".to_owned()));
        assert!(parse(argv(&["-J", "j", "-J", "k", "h"]))
            .unwrap_err()
            .starts_with("Only a single -J"));
        assert_eq!(
            parse(argv(&["-o", "proxycommand nc %h %p", "-J", "j", "h"])).unwrap_err(),
            "Cannot specify -J with ProxyCommand"
        );
        assert!(parse(argv(&[])).is_err());
    }

    #[test]
    fn destinations_split_like_sftp() {
        let d = destination("u@h:/tmp/x").unwrap();
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.path.as_deref()),
            (Some("u"), "h", Some("/tmp/x"))
        );
        let d = destination("sftp://u@[::1]:2200/dir").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.path.as_deref()),
            ("::1", Some(2200), Some("dir"))
        );
        assert_eq!(destination("h").unwrap().path, None);
    }
}
