//! `sshd -T` output: one lower-case keyword and its effective value per line, in sshd
//! 9.2's order (`dump_config`), with its value formatting.

use super::parse::Value;
use super::{PermitRootLogin, PermitUserEnvironment, SshdConfig};

/// Keywords without a typed field, with the default `-T` prints for them.
const GENERIC_DEFAULTS: &[(&str, &str)] = &[
    ("x11displayoffset", "10"),
    ("requiredrsasize", "1024"),
    ("unusedconnectiontimeout", "none"),
    ("ignorerhosts", "yes"),
    ("ignoreuserknownhosts", "no"),
    ("hostbasedauthentication", "no"),
    ("hostbasedusesnamefrompacketonly", "no"),
    ("kerberosauthentication", "no"),
    ("kerberosorlocalpasswd", "yes"),
    ("kerberosticketcleanup", "yes"),
    ("gssapiauthentication", "no"),
    ("gssapicleanupcredentials", "yes"),
    ("gssapikeyexchange", "no"),
    ("gssapistrictacceptorcheck", "yes"),
    ("gssapistorecredentialsonrekey", "no"),
    ("gssapikexalgorithms", "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-"),
    ("x11forwarding", "no"),
    ("x11uselocalhost", "yes"),
    ("gatewayports", "no"),
    ("allowtcpforwarding", "yes"),
    ("allowagentforwarding", "yes"),
    ("disableforwarding", "no"),
    ("allowstreamlocalforwarding", "yes"),
    ("streamlocalbindunlink", "no"),
    ("fingerprinthash", "SHA256"),
    ("exposeauthinfo", "no"),
    ("modulifile", "/etc/ssh/moduli"),
    ("xauthlocation", "/usr/bin/xauth"),
    ("chrootdirectory", "none"),
    ("trustedusercakeys", "none"),
    ("revokedkeys", "none"),
    ("securitykeyprovider", "internal"),
    ("authorizedprincipalsfile", "none"),
    ("versionaddendum", "none"),
    ("authorizedkeyscommand", "none"),
    ("authorizedkeyscommanduser", "none"),
    ("authorizedprincipalscommand", "none"),
    ("authorizedprincipalscommanduser", "none"),
    ("hostkeyagent", "none"),
    ("persourcemaxstartups", "none"),
    ("persourcenetblocksize", "32:128"),
    ("permittunnel", "no"),
    ("ipqos", "lowdelay throughput"),
    ("permitopen", "any"),
    ("permitlisten", "any"),
    ("pubkeyauthoptions", "none"),
];

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl SshdConfig {
    /// The value `-T` prints for a keyword without a typed field.
    fn generic(&self, key: &str) -> String {
        let default = GENERIC_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, d)| d);
        let text = match self.store.first(key) {
            None => return default.to_string(),
            Some(Value::Flag(b)) => yn(*b).to_string(),
            Some(Value::Choice(c)) => (*c).to_string(),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Word(w)) => w.clone(),
            Some(_) => self.store.words(key).join(" "),
        };
        match key {
            // One IPQoS value sets both the interactive and the bulk class.
            "ipqos" if !text.contains(' ') => format!("{text} {text}"),
            "fingerprinthash" => text.to_ascii_uppercase(),
            _ => text,
        }
    }

    /// What `sshd -T` prints for this configuration (every line ends with `\n`).
    pub fn dump(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut line = |k: &str, v: &str| out.push(format!("{k} {v}"));
        let g = |s: &Self, k: &str| s.generic(k);
        for p in &self.ports {
            line("port", &p.to_string());
        }
        let family = match self.address_family {
            super::AddressFamily::Any => "any",
            super::AddressFamily::Inet => "inet",
            super::AddressFamily::Inet6 => "inet6",
        };
        line("addressfamily", family);
        for a in &self.listen_addresses {
            line("listenaddress", &a.to_string());
        }
        line("usepam", yn(self.use_pam));
        line("logingracetime", &self.login_grace_time.to_string());
        line("x11displayoffset", &g(self, "x11displayoffset"));
        line("maxauthtries", &self.max_auth_tries.to_string());
        line("maxsessions", &self.max_sessions.to_string());
        line(
            "clientaliveinterval",
            &self.client_alive_interval.to_string(),
        );
        line(
            "clientalivecountmax",
            &self.client_alive_count_max.to_string(),
        );
        line("requiredrsasize", &g(self, "requiredrsasize"));
        line(
            "streamlocalbindmask",
            &format!("0{:o}", self.stream_local_bind_mask),
        );
        line(
            "unusedconnectiontimeout",
            &g(self, "unusedconnectiontimeout"),
        );
        let prl = match self.permit_root_login {
            PermitRootLogin::Yes => "yes",
            PermitRootLogin::ProhibitPassword => "without-password",
            PermitRootLogin::ForcedCommandsOnly => "forced-commands-only",
            PermitRootLogin::No => "no",
        };
        line("permitrootlogin", prl);
        for k in [
            "ignorerhosts",
            "ignoreuserknownhosts",
            "hostbasedauthentication",
            "hostbasedusesnamefrompacketonly",
        ] {
            line(k, &g(self, k));
        }
        line("pubkeyauthentication", yn(self.pubkey_authentication));
        for k in [
            "kerberosauthentication",
            "kerberosorlocalpasswd",
            "kerberosticketcleanup",
            "gssapiauthentication",
            "gssapicleanupcredentials",
            "gssapikeyexchange",
            "gssapistrictacceptorcheck",
            "gssapistorecredentialsonrekey",
            "gssapikexalgorithms",
        ] {
            line(k, &g(self, k));
        }
        line("passwordauthentication", yn(self.password_authentication));
        line(
            "kbdinteractiveauthentication",
            yn(self.kbd_interactive_authentication),
        );
        line("printmotd", yn(self.print_motd));
        line("printlastlog", yn(self.print_last_log));
        line("x11forwarding", &g(self, "x11forwarding"));
        line("x11uselocalhost", &g(self, "x11uselocalhost"));
        line("permittty", yn(self.permit_tty));
        line("permituserrc", yn(self.permit_user_rc));
        line("strictmodes", yn(self.strict_modes));
        line("tcpkeepalive", yn(self.tcp_keep_alive));
        line("permitemptypasswords", yn(self.permit_empty_passwords));
        line("compression", yn(self.compression));
        line("gatewayports", &g(self, "gatewayports"));
        line("usedns", yn(self.use_dns));
        for k in [
            "allowtcpforwarding",
            "allowagentforwarding",
            "disableforwarding",
            "allowstreamlocalforwarding",
            "streamlocalbindunlink",
            "fingerprinthash",
            "exposeauthinfo",
        ] {
            line(k, &g(self, k));
        }
        line("pidfile", &self.pid_file);
        line("modulifile", &g(self, "modulifile"));
        line("xauthlocation", &g(self, "xauthlocation"));
        line("ciphers", &self.ciphers.join(","));
        line("macs", &self.macs.join(","));
        line("banner", self.banner.as_deref().unwrap_or("none"));
        line(
            "forcecommand",
            self.force_command.as_deref().unwrap_or("none"),
        );
        for k in [
            "chrootdirectory",
            "trustedusercakeys",
            "revokedkeys",
            "securitykeyprovider",
            "authorizedprincipalsfile",
            "versionaddendum",
            "authorizedkeyscommand",
            "authorizedkeyscommanduser",
            "authorizedprincipalscommand",
            "authorizedprincipalscommanduser",
            "hostkeyagent",
        ] {
            line(k, &g(self, k));
        }
        line("kexalgorithms", &self.kex_algorithms.join(","));
        line(
            "casignaturealgorithms",
            &self.ca_signature_algorithms.join(","),
        );
        line(
            "hostbasedacceptedalgorithms",
            &self.hostbased_accepted_algorithms.join(","),
        );
        line("hostkeyalgorithms", &self.host_key_algorithms.join(","));
        line(
            "pubkeyacceptedalgorithms",
            &self.pubkey_accepted_algorithms.join(","),
        );
        line("loglevel", self.log_level.name());
        line("syslogfacility", self.syslog_facility.name());
        line("authorizedkeysfile", &self.authorized_keys_files.join(" "));
        let lists: [(&str, &Vec<String>); 7] = [
            ("hostkey", &self.host_keys),
            ("allowusers", &self.allow_users),
            ("denyusers", &self.deny_users),
            ("allowgroups", &self.allow_groups),
            ("denygroups", &self.deny_groups),
            ("acceptenv", &self.accept_env),
            ("setenv", &self.set_env),
        ];
        for (k, values) in lists {
            for v in values {
                line(k, v);
            }
        }
        line(
            "authenticationmethods",
            &self.authentication_methods.join(" "),
        );
        for s in &self.subsystems {
            line("subsystem", &format!("{} {}", s.name, s.command));
        }
        let ms = self.max_startups;
        line(
            "maxstartups",
            &format!("{}:{}:{}", ms.start, ms.rate, ms.full),
        );
        for k in [
            "persourcemaxstartups",
            "persourcenetblocksize",
            "permittunnel",
            "ipqos",
        ] {
            line(k, &g(self, k));
        }
        let rk = self.rekey_limit;
        line("rekeylimit", &format!("{} {}", rk.bytes, rk.interval));
        line("permitopen", &g(self, "permitopen"));
        line("permitlisten", &g(self, "permitlisten"));
        let pue = match &self.permit_user_environment {
            PermitUserEnvironment::No => "no",
            PermitUserEnvironment::Yes => "yes",
            PermitUserEnvironment::Allow(list) => list.as_str(),
        };
        line("permituserenvironment", pue);
        line("pubkeyauthoptions", &g(self, "pubkeyauthoptions"));
        let mut s = out.join("\n");
        s.push('\n');
        s
    }
}
