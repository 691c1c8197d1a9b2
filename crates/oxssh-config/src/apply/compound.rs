//! Keywords whose values need more than one parser: agent paths, forwards, environment
//! lists, canonicalisation domains, rekey limits and `AddKeysToAgent`.

// Shared imports and the line context come from the parent module.
use super::*;

/// `${VAR}` in an agent socket path must expand now, and a legacy `$VAR` must be a valid name.
pub(super) fn check_agent_path(arg: &str, c: &LineCtx) -> R {
    if let Err(e) = dollar_expand(arg, c.env) {
        return Err(LineError::Bad(vec![
            format!("vdollar_percent_expand: {e}"),
            c.msg(&format!("Invalid environment expansion {arg}.")),
        ]));
    }
    if let Some(name) = arg.strip_prefix('$') {
        if !name.starts_with('{') && !valid_env_name(name) {
            return Err(c.bad(&format!("Invalid environment name {arg}.")));
        }
    }
    Ok(())
}

pub(super) fn forward_agent(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("missing argument."));
    }
    if let Some(v) = parse_flag(&arg) {
        set_first(&mut o.forward_agent, c.active, v);
        return Ok(());
    }
    // Not yes/no: a socket path (or `$VAR`), which also turns forwarding on.
    set_first(&mut o.forward_agent, c.active, true);
    check_agent_path(&arg, c)?;
    set_first(&mut o.forward_agent_sock_path, c.active, arg);
    Ok(())
}

pub(super) fn rekey_limit(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("Missing argument."));
    }
    let limit = if arg == "default" {
        0
    } else {
        let v = scan_scaled(&arg).map_err(|e| c.bad(&format!("Bad number '{arg}': {e}")))?;
        if v != 0 && v < 16 {
            return Err(c.bad("RekeyLimit too small"));
        }
        v
    };
    set_first(&mut o.rekey_limit, c.active, limit);
    if a.peek() == Some("none") {
        a.next_arg();
    } else if a.remaining() > 0 {
        time(&mut o.rekey_interval, a, c)?;
    }
    Ok(())
}

pub(super) fn forward(o: &mut Options, kw: K, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg().unwrap_or_default();
    if arg.is_empty() {
        return Err(c.bad("Missing argument."));
    }
    let remote = kw == K::RemoteForward;
    let mut dynamic = kw == K::DynamicForward;
    let mut spec = arg.clone();
    if !dynamic {
        match a.next_arg().filter(|s| !s.is_empty()) {
            Some(target) => spec = format!("{arg}:{target}"),
            // `RemoteForward port` alone is a remote dynamic (SOCKS) forward.
            None if remote => dynamic = true,
            None => return Err(c.bad("Missing target argument.")),
        }
    }
    let fwd = parse_forward(&spec, dynamic, remote, c.env)
        .ok_or_else(|| c.bad("Bad forwarding specification."))?;
    if c.active {
        if remote {
            o.add_remote_forward(fwd);
        } else {
            o.add_local_forward(fwd);
        }
    }
    Ok(())
}

pub(super) fn permit_remote_open(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let name = K::PermitRemoteOpen.name();
    let was_empty = o.permit_remote_open.is_empty();
    let first = a.next_arg().unwrap_or_default();
    if first.is_empty() {
        return Err(c.fatal(&format!("missing {name} specification")));
    }
    if first == "any" || first == "none" {
        if a.remaining() > 0 {
            return Err(c.bad(&format!(
                "keyword {} \"{first}\" argument must appear alone.",
                c.keyword
            )));
        }
        if c.active && was_empty {
            o.permit_remote_open.push(first);
        }
        return Ok(());
    }
    let mut next = Some(first);
    while let Some(spec) = next {
        // host:port where host may be [bracketed] and port may be `*`.
        let (host_ok, port) = if let Some(inner) = spec.strip_prefix('[') {
            match inner.split_once(']') {
                Some((_, rest)) => (true, rest.strip_prefix(':')),
                None => (false, None),
            }
        } else {
            match spec.find([':', '/']) {
                Some(i) if spec.get(i..i + 1) == Some(":") => (true, spec.get(i + 1..)),
                Some(_) => (false, None),
                None => (true, None),
            }
        };
        if !host_ok {
            return Err(c.fatal(&format!("missing host in {name}")));
        }
        match port {
            Some(p) if p == "*" || a2port(p, c.env) > 0 => {}
            _ => return Err(c.fatal(&format!("bad port number in {name}"))),
        }
        if c.active && was_empty {
            o.permit_remote_open.push(spec);
        }
        next = a.next_arg();
    }
    Ok(())
}

pub(super) fn send_env(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    while let Some(arg) = a.next_arg() {
        if arg.is_empty() || arg.contains('=') {
            return Err(c.bad("Invalid environment name."));
        }
        if !c.active {
            continue;
        }
        if let Some(pattern) = arg.strip_prefix('-') {
            // `-PATTERN` removes names added so far.
            o.send_env
                .retain(|name| !crate::pattern::match_pattern(name, pattern));
        } else {
            o.send_env.push(arg);
        }
    }
    Ok(())
}

pub(super) fn set_env(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    // The first line that sets anything wins; later lines are only checked.
    let was_empty = o.set_env.is_empty();
    while let Some(arg) = a.next_arg() {
        let Some((name, _)) = arg.split_once('=') else {
            return Err(c.bad("Invalid SetEnv."));
        };
        if !c.active || !was_empty {
            continue;
        }
        let dup = o
            .set_env
            .iter()
            .any(|e| e.split_once('=').is_some_and(|(n, _)| n == name));
        if !dup {
            o.set_env.push(arg);
        }
    }
    Ok(())
}

pub(super) fn canonical_domains(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let was_set = !o.canonical_domains.is_empty();
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
        let domain = valid_domain(&arg).map_err(|e| c.bad(&e))?;
        if !c.active || was_set {
            continue;
        }
        if o.canonical_domains.len() >= MAX_CANON_DOMAINS {
            return Err(c.bad("too many hostname suffixes."));
        }
        o.canonical_domains.push(domain);
    }
    Ok(())
}

pub(super) fn permitted_cnames(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let was_set = !o.canonicalize_permitted_cnames.is_empty();
    let mut i = 0;
    while let Some(arg) = a.next_arg() {
        let pair = if arg.eq_ignore_ascii_case("none") {
            if i > 0 || a.remaining() > 0 {
                return Err(c.bad(&format!(
                    "keyword {} \"none\" argument must appear alone.",
                    c.keyword
                )));
            }
            (arg.clone(), String::new())
        } else if arg == "*" {
            (arg.clone(), arg.clone())
        } else {
            let lower = arg.to_ascii_lowercase();
            match lower.split_once(':') {
                Some((src, dst)) if !dst.is_empty() => (src.to_string(), dst.to_string()),
                _ => return Err(c.bad(&format!("Invalid permitted CNAME \"{lower}\""))),
            }
        };
        i += 1;
        if !c.active || was_set {
            continue;
        }
        if o.canonicalize_permitted_cnames.len() >= MAX_CANON_DOMAINS {
            return Err(c.bad("too many permitted CNAMEs."));
        }
        o.canonicalize_permitted_cnames.push(pair);
    }
    Ok(())
}

pub(super) fn add_keys_to_agent(o: &mut Options, a: &mut Args, c: &LineCtx) -> R {
    let arg = a.next_arg();
    let arg2 = a.next_arg();
    let mode = arg.as_deref().and_then(AddKeysMode::parse);
    let bad_time = || c.bad("invalid time value.");
    let unsupported = || c.bad("unsupported option");
    let v = match (mode, arg2.as_deref()) {
        (Some(AddKeysMode::Confirm), Some(t)) => AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime: convtime(t).ok_or_else(bad_time)?,
        },
        // A bare time means "yes, for this long".
        (None, None) => AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime: arg.as_deref().and_then(convtime).ok_or_else(unsupported)?,
        },
        (Some(mode), None) => AddKeysToAgent { mode, lifetime: 0 },
        _ => return Err(unsupported()),
    };
    set_first(&mut o.add_keys_to_agent, c.active, v);
    Ok(())
}
