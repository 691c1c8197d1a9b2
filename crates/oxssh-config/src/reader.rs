//! Reading configuration files: lines, `Host` and `Match` blocks, `Include`, and the
//! bookkeeping of bad lines (OpenSSH's `read_config_file_depth`, `process_config_line_depth`
//! and `match_cfg_line`).
//!
//! Block state is one "active" flag: `Host`/`Match` set it, and a keyword line only stores
//! values while it is set. An `Include` runs the included files with the current state (so
//! an `Include` inside a `Host` block applies only to that host) and restores it afterwards,
//! so a `Match` inside an included file cannot change the including file's block. Files
//! included from an inactive block are still parsed (and their errors reported) but never
//! activate anything.

use crate::algorithms::AlgorithmLists;
use crate::apply::{apply, LineCtx, LineError};
use crate::env::{ConfigEnv, ExecStatus};
use crate::error::{trunc, ConfigError, FatalKind};
use crate::expand::{expansion_fatal, percent_dollar_expand, uses_token};
use crate::glob::glob;
use crate::keyword::{lookup, Keyword, Support};
use crate::lexer::{argv_split, split_line, Args, Delim, Line};
use crate::options::{Options, Origin, UnsupportedUse};
use crate::pattern::{match_hostname, match_pattern, match_pattern_list, ListMatch};

/// How deep `Include` may nest (OpenSSH's `READCONF_MAX_DEPTH`).
pub(crate) const MAX_INCLUDE_DEPTH: u32 = 16;

/// A SHA-1 hasher returning lower-case hex, supplied by the caller for `%C`.
pub type ConnectionHasher = fn(&[u8]) -> String;

/// Per-file flags (OpenSSH's `SSHCONF_*`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    /// User configuration: relative includes are under `~/.ssh`, `~` is allowed.
    pub(crate) user_conf: bool,
    /// Refuse files writable by others or owned by someone else.
    pub(crate) check_perm: bool,
    /// Parse only: never activate a block.
    pub(crate) never_match: bool,
}

/// The result of trying to read one file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    Read,
    NotFound,
    /// It exists but cannot be read; the `strerror` text.
    CannotOpen(String),
}

/// One pass over the configuration files.
pub(crate) struct Reader<'a> {
    pub(crate) env: &'a dyn ConfigEnv,
    pub(crate) algs: &'a AlgorithmLists,
    /// The name `Host` patterns are matched against.
    pub(crate) host: String,
    /// The host name as given on the command line (`Match originalhost`, `%n`).
    pub(crate) original_host: String,
    /// Whether this is the second ("final") pass.
    pub(crate) final_pass: bool,
    /// Set when a `Match final` is seen during the first pass.
    pub(crate) want_final_pass: bool,
    pub(crate) hasher: Option<ConnectionHasher>,
}

impl Reader<'_> {
    /// Reads one file at include depth `depth`.
    pub(crate) fn read_file(
        &mut self,
        o: &mut Options,
        path: &str,
        flags: Flags,
        active: &mut bool,
        depth: u32,
    ) -> Result<ReadOutcome, ConfigError> {
        if depth > MAX_INCLUDE_DEPTH {
            return Err(ConfigError::fatal(
                FatalKind::IncludeDepth,
                "Too many recursive configuration includes",
            ));
        }
        let data = match self.env.read_file(path) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(ReadOutcome::NotFound),
            Err(e) => return Ok(ReadOutcome::CannotOpen(e)),
        };
        if flags.check_perm
            && ((data.uid != 0 && data.uid != self.env.uid()) || data.mode & 0o022 != 0)
        {
            return Err(ConfigError::fatal(
                FatalKind::BadPermissions,
                format!("Bad owner or permissions on {path}"),
            ));
        }
        let mut messages = Vec::new();
        let mut count = 0;
        for (i, line) in data.contents.split('\n').enumerate() {
            let linenum = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match self.process_line(o, line, path, linenum, Some(&mut *active), flags, depth) {
                Ok(()) => {}
                Err(LineError::Bad(m)) => {
                    count += 1;
                    messages.extend(m);
                }
                Err(LineError::Fatal(e)) => return Err(e.with_preceding(messages)),
            }
        }
        if count > 0 {
            return Err(ConfigError::BadOptions {
                file: path.to_string(),
                count,
                messages,
            });
        }
        Ok(ReadOutcome::Read)
    }

    /// Processes one line; `active` is `None` for a `-o` option. The parameters mirror
    /// OpenSSH's `process_config_line_depth`, which keeps the port easy to compare.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn process_line(
        &mut self,
        o: &mut Options,
        line: &str,
        file: &str,
        linenum: u32,
        active: Option<&mut bool>,
        flags: Flags,
        depth: u32,
    ) -> Result<(), LineError> {
        let cmdline = active.is_none();
        let mut cmdline_active = true;
        let active = match active {
            Some(a) => a,
            None => &mut cmdline_active,
        };
        let d = match split_line(line) {
            Line::Empty => return Ok(()),
            Line::NoArgument(kw) => {
                return Err(LineError::Bad(vec![format!(
                    "{file} line {linenum}: no argument after keyword \"{kw}\""
                )]))
            }
            Line::Directive(d) => d,
        };
        let Some(info) = lookup(&d.keyword) else {
            let ignored = o
                .ignore_unknown
                .as_deref()
                .is_some_and(|p| match_pattern_list(&d.keyword, p, true) == ListMatch::Match);
            if ignored {
                return Ok(());
            }
            return Err(LineError::Bad(vec![format!(
                "{file}: line {linenum}: Bad configuration option: {}",
                d.keyword
            )]));
        };
        let ctx = LineCtx {
            file,
            line: linenum,
            keyword: &d.keyword,
            rest: d.rest,
            active: *active,
            user_conf: flags.user_conf,
            env: self.env,
            algs: self.algs,
        };
        let mut args = Args::new(argv_split(d.rest, true).map_err(|_| ctx.bad("invalid quotes"))?);
        match info.keyword {
            Keyword::Host => {
                if cmdline {
                    return Err(LineError::Bad(vec![
                        "Host directive not supported as a command-line option".into(),
                    ]));
                }
                self.host_line(&mut args, &ctx, flags, active)?;
            }
            Keyword::Match => {
                if cmdline {
                    // OpenSSH's wording, "Host" included.
                    return Err(LineError::Bad(vec![
                        "Host directive not supported as a command-line option".into(),
                    ]));
                }
                let matched = self.match_line(o, &ctx)?;
                *active = !flags.never_match && matched;
                args.consume_all();
            }
            Keyword::Include => {
                if cmdline {
                    return Err(LineError::Bad(vec![
                        "Include directive not supported as a command-line option".into(),
                    ]));
                }
                self.include_line(o, &mut args, &ctx, flags, active, depth)?;
            }
            kw => apply(o, kw, &mut args, &ctx)?,
        }
        if args.remaining() > 0 {
            return Err(ctx.bad(&format!(
                "keyword {} extra arguments at end of line",
                d.keyword
            )));
        }
        if info.support == Support::NotImplemented && ctx.active {
            o.unsupported.push(UnsupportedUse {
                keyword: info.keyword,
                value: d.rest.to_string(),
                origin: Origin {
                    file: file.to_string(),
                    line: linenum,
                },
            });
        }
        Ok(())
    }

    /// `Host pattern...`: active if any pattern matches and no negated one does.
    fn host_line(
        &self,
        args: &mut Args,
        c: &LineCtx,
        flags: Flags,
        active: &mut bool,
    ) -> Result<(), LineError> {
        *active = false;
        while let Some(arg) = args.next_arg() {
            if arg.is_empty() {
                return Err(c.bad(&format!("keyword {} empty argument", c.keyword)));
            }
            if flags.never_match {
                args.consume_all();
                break;
            }
            let (negated, pattern) = match arg.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, arg.as_str()),
            };
            if match_pattern(&self.host, pattern) {
                if negated {
                    *active = false;
                    args.consume_all();
                    break;
                }
                *active = true;
            }
        }
        Ok(())
    }

    /// `Include path...`: see the module docs.
    fn include_line(
        &mut self,
        o: &mut Options,
        args: &mut Args,
        c: &LineCtx,
        flags: Flags,
        active: &mut bool,
        depth: u32,
    ) -> Result<(), LineError> {
        while let Some(arg) = args.next_arg() {
            if arg.is_empty() {
                return Err(c.bad(&format!("keyword {} empty argument", c.keyword)));
            }
            if arg.starts_with('~') && !flags.user_conf {
                return Err(c.bad(&format!("bad include path {arg}.")));
            }
            // Relative paths live in ~/.ssh for user files and /etc/ssh for system files.
            let pattern = if !arg.starts_with('/') && !arg.starts_with('~') {
                let dir = if flags.user_conf {
                    "~/.ssh"
                } else {
                    "/etc/ssh"
                };
                format!("{dir}/{arg}")
            } else {
                arg
            };
            let outer = *active;
            for path in glob(&pattern, self.env) {
                let inner = Flags {
                    check_perm: true,
                    never_match: flags.never_match || !outer,
                    ..flags
                };
                let r = self
                    .read_file(o, &path, inner, active, depth + 1)
                    .map_err(LineError::Fatal)?;
                if let ReadOutcome::CannotOpen(e) = r {
                    return Err(LineError::Bad(vec![format!(
                        "Can't open user config file {}: {}",
                        trunc(&path, 100),
                        trunc(&e, 100)
                    )]));
                }
                *active = outer;
            }
        }
        Ok(())
    }

    /// `Match criteria...` (OpenSSH's `match_cfg_line`). Errors end with "Bad Match condition".
    fn match_line(&mut self, o: &Options, c: &LineCtx) -> Result<bool, LineError> {
        let bad_condition = |mut lines: Vec<String>| {
            lines.push(c.msg("Bad Match condition"));
            LineError::Bad(lines)
        };
        // The configuration is incomplete here, so defaults stand in for unset values.
        let port = o
            .port
            .map_or_else(|| default_port(self.env), |p| p.to_string());
        let ruser = o.user.clone().unwrap_or_else(|| self.env.user_name());
        let host = if self.final_pass {
            o.hostname.clone().unwrap_or_else(|| self.host.clone())
        } else if let Some(h) = &o.hostname {
            percent_dollar_expand(h, &[('h', &self.host)], None)
                .map_err(|e| LineError::Fatal(expansion_fatal(&e, "percent_expand")))?
        } else {
            self.host.clone()
        };
        let mut delim = Delim::new(c.rest);
        let mut result = true;
        let mut attributes = 0;
        while let Some(oattrib) = delim.next_token(true).filter(|t| !t.is_empty()) {
            if oattrib.starts_with('#') {
                break;
            }
            let (negate, attrib) = match oattrib.strip_prefix('!') {
                Some(a) => (true, a),
                None => (false, oattrib.as_str()),
            };
            let attrib = attrib.to_ascii_lowercase();
            if attrib == "all" {
                let next = delim.next_token(true);
                let extra = next
                    .as_deref()
                    .is_some_and(|n| !n.is_empty() && !n.starts_with('#'));
                if attributes > 1 || extra {
                    return Err(bad_condition(vec![c.msg(&format!(
                        "'{oattrib}' cannot be combined with other Match attributes"
                    ))]));
                }
                if result {
                    result = !negate;
                }
                return Ok(result);
            }
            attributes += 1;
            if attrib == "canonical" || attrib == "final" {
                if attrib == "final" && !self.final_pass {
                    self.want_final_pass = true;
                }
                if self.final_pass == negate {
                    result = false;
                }
                continue;
            }
            let arg = delim
                .next_token(true)
                .filter(|a| !a.is_empty() && !a.starts_with('#'))
                .ok_or_else(|| {
                    bad_condition(vec![format!("Missing Match criteria for {attrib}")])
                })?;
            let matched = match attrib.as_str() {
                "host" => match_hostname(&host, &arg) == ListMatch::Match,
                "originalhost" => match_hostname(&self.original_host, &arg) == ListMatch::Match,
                "user" => match_pattern_list(&ruser, &arg, false) == ListMatch::Match,
                "localuser" => {
                    match_pattern_list(&self.env.user_name(), &arg, false) == ListMatch::Match
                }
                "exec" => {
                    let cmd = self.exec_command(o, &arg, &host, &port, &ruser)?;
                    if !result {
                        // A previous criterion failed: the command is not run.
                        continue;
                    }
                    self.run_exec(&cmd, c)?
                }
                _ => {
                    return Err(bad_condition(vec![format!(
                        "Unsupported Match attribute {attrib}"
                    )]))
                }
            };
            if matched == negate {
                result = false;
            }
        }
        if attributes == 0 {
            return Err(bad_condition(vec![
                "One or more attributes required for Match".into(),
            ]));
        }
        Ok(result)
    }

    /// Expands the tokens `Match exec` accepts.
    fn exec_command(
        &self,
        o: &Options,
        arg: &str,
        host: &str,
        port: &str,
        ruser: &str,
    ) -> Result<String, LineError> {
        let fatal = |kind, msg: String| LineError::Fatal(ConfigError::fatal(kind, msg));
        let this_host = self.env.host_name();
        let short = this_host.split('.').next().unwrap_or("").to_string();
        let hash = if uses_token(arg, 'C') {
            let Some(h) = self.hasher else {
                return Err(fatal(
                    FatalKind::NoConnectionHasher,
                    "%C needs a connection hasher (SHA-1), which the caller did not supply".into(),
                ));
            };
            h(format!("{this_host}{host}{port}{ruser}").as_bytes())
        } else {
            String::new()
        };
        let home = self.env.home_dir();
        let user = self.env.user_name();
        let uid = self.env.uid().to_string();
        let key_alias = o.host_key_alias.clone().unwrap_or_else(|| host.to_string());
        let tokens = [
            ('C', hash.as_str()),
            ('L', &short),
            ('d', &home),
            ('h', host),
            ('k', &key_alias),
            ('l', &this_host),
            ('n', &self.original_host),
            ('p', port),
            ('r', ruser),
            ('u', &user),
            ('i', &uid),
        ];
        percent_dollar_expand(arg, &tokens, None)
            .map_err(|e| LineError::Fatal(expansion_fatal(&e, "percent_expand")))
    }

    /// Runs a `Match exec` command through the user's shell; exit status 0 is a match.
    fn run_exec(&self, cmd: &str, c: &LineCtx) -> Result<bool, LineError> {
        let shell = self.env.var("SHELL").unwrap_or_else(|| "/bin/sh".into());
        match self.env.run_shell(&shell, cmd) {
            Ok(ExecStatus::Exited(code)) => Ok(code == 0),
            Ok(ExecStatus::Signaled) | Err(_) => Err(LineError::Fatal(ConfigError::fatal(
                FatalKind::MatchExec,
                c.msg(&format!("match exec '{}' error", trunc(cmd, 100))),
            ))),
        }
    }
}

/// The default SSH port from the services database, 22 if it has none.
pub(crate) fn default_port(env: &dyn ConfigEnv) -> String {
    env.service_port("ssh").unwrap_or(22).to_string()
}
