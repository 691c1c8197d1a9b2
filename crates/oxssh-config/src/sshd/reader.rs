//! Reading `sshd_config` files: lines, `Include`, `Match` blocks, and the start-up pass.
//!
//! Every line is parsed and validated once, at load, into an [`Entry`] that remembers the
//! chain of `Match` conditions it sits under (an `Include` inside a `Match` block puts the
//! included file's lines, and its own `Match` blocks, under that block's condition too). The
//! start-up pass applies the lines whose chain holds without a connection (the main section
//! and `Match all`), as sshd does; [`super::SshdConfig::for_connection`] later re-applies
//! the `Match` lines for a connection, as sshd's `parse_server_match_config` does.

use std::collections::BTreeMap;

use crate::algorithms::AlgorithmLists;
use crate::env::ConfigEnv;
use crate::glob::glob;
use crate::lexer::{argv_split, skip_ws, trim_line_end, Args, Delim};

use super::keyword::{lookup, SshdKeywordInfo, ValueKind};
use super::matching::{parse_match, MatchCond};
use super::parse::{parse_value, LineCtx, LineError, Value};
use super::{SshdConfigError, SshdErrorKind};

/// How deep `Include` may nest (`SERVCONF_MAX_DEPTH`).
const MAX_DEPTH: u32 = 16;

/// One parsed configuration line.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) info: &'static SshdKeywordInfo,
    pub(crate) value: Value,
    pub(crate) file: String,
    pub(crate) line: u32,
    /// Indexes into [`Reader::conds`]: every one must hold for the line to apply.
    pub(crate) chain: Vec<usize>,
    /// The arguments as written, joined by one space (for messages).
    pub(crate) text: String,
}

/// Option values by `-T` name, with sshd's rule for repeated lines applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Store(pub(crate) BTreeMap<&'static str, Vec<Value>>);

fn slot<'m>(m: &'m mut BTreeMap<&'static str, Vec<Value>>, k: &'static str) -> &'m mut Vec<Value> {
    m.entry(k).or_default()
}

impl Store {
    /// Records one active line; `Err` carries sshd's fatal message.
    pub(crate) fn apply(&mut self, e: &Entry) -> Result<(), String> {
        match (&e.info.kind, &e.value) {
            (_, Value::Nothing | Value::Include(_)) => {}
            (ValueKind::Port | ValueKind::HostKey | ValueKind::ListenAddress, v) => {
                slot(&mut self.0, e.info.option).push(v.clone());
            }
            (ValueKind::Patterns | ValueKind::AcceptEnv, Value::Words(ws)) => {
                let s = slot(&mut self.0, e.info.option);
                s.extend(ws.iter().cloned().map(Value::Word));
            }
            (ValueKind::Subsystem, Value::Subsystem(name, _)) => {
                let s = slot(&mut self.0, e.info.option);
                let dup = s
                    .iter()
                    .any(|v| matches!(v, Value::Subsystem(n, _) if n == name));
                if dup {
                    return Err(format!(
                        "{} line {}: Subsystem '{name}' already defined.",
                        e.file, e.line
                    ));
                }
                s.push(e.value.clone());
            }
            (ValueKind::MaxStartups, v) => *slot(&mut self.0, e.info.option) = vec![v.clone()],
            (ValueKind::RekeyLimit, Value::Rekey(bytes, interval)) => {
                let s = slot(&mut self.0, "rekeylimit");
                if s.is_empty() {
                    s.push(Value::Rekey(*bytes, None));
                }
                if let Some(i) = interval {
                    let s = slot(&mut self.0, "rekeyinterval");
                    if s.is_empty() {
                        s.push(Value::Int(*i));
                    }
                }
            }
            (_, v) => {
                let s = slot(&mut self.0, e.info.option);
                if s.is_empty() {
                    s.push(v.clone());
                }
            }
        }
        Ok(())
    }
}

/// One load of the configuration.
pub(crate) struct Reader<'a> {
    pub(crate) env: &'a dyn ConfigEnv,
    pub(crate) algs: &'a AlgorithmLists,
    /// Where relative `Include` paths are anchored (the main file's directory).
    pub(crate) base_dir: String,
    pub(crate) entries: Vec<Entry>,
    pub(crate) conds: Vec<MatchCond>,
    /// The start-up pass (main section and `Match all`).
    pub(crate) store: Store,
    /// Messages sshd logs without failing (deprecated keywords).
    pub(crate) warnings: Vec<String>,
}

/// The file name sshd gives `-o` options in its messages.
const COMMAND_LINE: &str = "command-line";

impl Reader<'_> {
    fn active(&self, chain: &[usize]) -> bool {
        chain
            .iter()
            .all(|i| self.conds.get(*i).is_some_and(|c| c.matches(None)))
    }

    /// Reads `-o` options as sshd does: each is a line of the file `command-line`, line 0,
    /// read before the configuration file, so their values win.
    pub(crate) fn read_command_line(&mut self, lines: &[String]) -> Result<(), SshdConfigError> {
        let mut current = Vec::new();
        for raw in lines {
            match self.process_line(raw, COMMAND_LINE, 0, &[], &mut current, 0) {
                Ok(()) => {}
                // sshd stops at the first bad option on its command line.
                Err(LineError::Bad(m)) | Err(LineError::Fatal(m)) => {
                    return Err(SshdConfigError::line_fatal(COMMAND_LINE, 0, m))
                }
                Err(LineError::Nested(e)) => return Err(*e),
            }
        }
        Ok(())
    }

    /// Reads one file whose lines start under `inherited` (the includer's current block).
    pub(crate) fn read_file(
        &mut self,
        path: &str,
        inherited: &[usize],
        depth: u32,
    ) -> Result<(), SshdConfigError> {
        if depth > MAX_DEPTH {
            return Err(SshdConfigError::fatal(
                SshdErrorKind::Include,
                None,
                "Too many recursive configuration includes".into(),
            ));
        }
        let data = match self.env.read_file(path) {
            Ok(Some(d)) => d,
            Ok(None) => {
                let m = format!("load_server_config: fopen {path}: No such file or directory");
                return Err(SshdConfigError::fatal(SshdErrorKind::CannotOpen, None, m));
            }
            Err(e) => {
                let m = format!("load_server_config: fopen {path}: {e}");
                return Err(SshdConfigError::fatal(SshdErrorKind::CannotOpen, None, m));
            }
        };
        let mut current = inherited.to_vec();
        let mut bad: Vec<(u32, String)> = Vec::new();
        for (i, raw) in data.contents.split('\n').enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match self.process_line(raw, path, line, inherited, &mut current, depth) {
                Ok(()) => {}
                Err(LineError::Bad(m)) => bad.push((line, m)),
                Err(LineError::Fatal(m)) => {
                    let pre = bad.into_iter().map(|(_, m)| m).collect();
                    return Err(SshdConfigError::line_fatal(path, line, m).with_preceding(pre));
                }
                Err(LineError::Nested(e)) => {
                    let pre = bad.into_iter().map(|(_, m)| m).collect();
                    return Err(e.with_preceding(pre));
                }
            }
        }
        if !bad.is_empty() {
            return Err(SshdConfigError::BadOptions {
                file: path.to_string(),
                lines: bad,
            });
        }
        Ok(())
    }

    fn process_line(
        &mut self,
        raw: &str,
        file: &str,
        line: u32,
        inherited: &[usize],
        current: &mut Vec<usize>,
        depth: u32,
    ) -> Result<(), LineError> {
        let text = trim_line_end(raw);
        let mut d = Delim::new(text);
        let mut written = match d.next_token(true) {
            Some(k) => k,
            None => return Ok(()),
        };
        if written.is_empty() {
            written = match d.next_token(true) {
                Some(k) => k,
                None => return Ok(()),
            };
        }
        if written.is_empty() || written.starts_with('#') {
            return Ok(());
        }
        let rest = match d.rest().map(skip_ws) {
            Some(r) if !r.is_empty() => r,
            _ => {
                return Err(LineError::Bad(format!(
                    "{file} line {line}: no argument after keyword \"{written}\""
                )))
            }
        };
        let Some(info) = lookup(&written) else {
            return Err(LineError::Bad(format!(
                "{file}: line {line}: Bad configuration option: {written}"
            )));
        };
        let argv = argv_split(rest, true)
            .map_err(|_| LineError::Bad(format!("{file} line {line}: invalid quotes")))?;
        let joined = argv.join(" ");
        let mut args = Args::new(argv);
        let active = self.active(current);
        if !active && !info.in_match {
            return Err(LineError::Fatal(format!(
                "{file} line {line}: Directive '{written}' is not allowed within a Match block"
            )));
        }
        if info.kind == ValueKind::Match {
            let cond = parse_match(rest, line).map_err(|e| {
                let mut msgs = e.messages;
                if e.bad_condition {
                    msgs.push(format!("{file} line {line}: Bad Match condition"));
                }
                LineError::Fatal(msgs.join("\n"))
            })?;
            self.conds.push(cond);
            *current = inherited.to_vec();
            current.push(self.conds.len() - 1);
            return Ok(());
        }
        let ctx = LineCtx {
            file,
            line,
            written: &written,
            env: self.env,
            algs: self.algs,
        };
        let value = parse_value(info, &mut args, rest, &ctx)?;
        if args.remaining() > 0 {
            return Err(LineError::Bad(format!(
                "{file} line {line}: keyword {written} extra arguments at end of line"
            )));
        }
        if info.kind == ValueKind::Deprecated {
            self.warnings
                .push(format!("{file} line {line}: Deprecated option {written}"));
        }
        let entry = Entry {
            info,
            value,
            file: file.to_string(),
            line,
            chain: current.clone(),
            text: joined,
        };
        if active {
            self.store.apply(&entry).map_err(LineError::Fatal)?;
        }
        if let Value::Include(patterns) = &entry.value {
            self.entries.push(entry.clone());
            let chain = current.clone();
            for pat in patterns {
                self.include(pat, &chain, depth)?;
            }
            return Ok(());
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Reads every file an `Include` pattern names, under the includer's current block.
    fn include(&mut self, pattern: &str, chain: &[usize], depth: u32) -> Result<(), LineError> {
        let full = if pattern.starts_with('/') {
            pattern.to_string()
        } else {
            format!("{}/{pattern}", self.base_dir.trim_end_matches('/'))
        };
        for path in glob(&full, self.env) {
            // A literal path that does not exist matches nothing, as with glob(3).
            if !matches!(self.env.read_file(&path), Ok(Some(_))) {
                continue;
            }
            self.read_file(&path, chain, depth + 1)
                .map_err(|e| LineError::Nested(Box::new(e)))?;
        }
        Ok(())
    }
}
