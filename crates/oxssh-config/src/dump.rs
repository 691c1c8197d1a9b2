//! `ssh -G`: the resolved configuration printed in OpenSSH 9.2's order and spelling
//! (`dump_client_config`), so scripts that parse `ssh -G` output work with `oxssh -G`.
//!
//! One keyword per line, lower case, multi-state values by their first spelling. String
//! options that are unset are left out; lists print one line per entry (`identityfile`) or
//! all entries on one line (`userknownhostsfile`), as OpenSSH does. oxssh has no GSSAPI, so
//! the GSSAPI lines of GSSAPI-enabled builds are not printed.

use std::fmt::Write as _;

use crate::client::{ClientConfig, ForwardAgent};
use crate::values::{
    flag_name, ipqos_name, tun_id_name, vis_byte, AddKeysMode, ControlPersist, EscapeChar,
};

/// Collects `keyword value` lines.
struct Out(String);

impl Out {
    fn line(&mut self, key: &str, value: impl std::fmt::Display) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.0, "{key} {value}");
    }
    fn flag(&mut self, key: &str, v: bool) {
        self.line(key, flag_name(v));
    }
    fn opt(&mut self, key: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.line(key, v);
        }
    }
    fn list(&mut self, key: &str, v: &[String]) {
        self.line(key, v.join(","));
    }
    fn each<'a>(&mut self, key: &str, v: impl IntoIterator<Item = &'a String>) {
        for x in v {
            self.line(key, x);
        }
    }
    fn oneline(&mut self, key: &str, v: &[String]) {
        if v.is_empty() {
            self.line(key, "none");
        } else {
            self.line(key, v.join(" "));
        }
    }
}

impl ClientConfig {
    /// The configuration as `ssh -G` prints it, one `keyword value` per line.
    pub fn dump(&self) -> String {
        let mut o = Out(String::new());
        o.line("host", &self.host_arg);
        o.line("user", &self.user);
        o.line("hostname", &self.hostname);
        o.line("port", self.port);

        o.line("addressfamily", self.address_family.name());
        o.flag("batchmode", self.batch_mode);
        o.flag(
            "canonicalizefallbacklocal",
            self.canonicalize_fallback_local,
        );
        o.line("canonicalizehostname", self.canonicalize_hostname.name());
        o.flag("checkhostip", self.check_host_ip);
        o.flag("compression", self.compression);
        o.line("controlmaster", self.control_master.name());
        o.flag("enablesshkeysign", self.enable_ssh_keysign);
        o.flag("clearallforwardings", self.clear_all_forwardings);
        o.flag("exitonforwardfailure", self.exit_on_forward_failure);
        o.line("fingerprinthash", self.fingerprint_hash.name());
        o.flag("forwardx11", self.forward_x11);
        o.flag("forwardx11trusted", self.forward_x11_trusted);
        o.flag("gatewayports", self.gateway_ports);
        o.flag("hashknownhosts", self.hash_known_hosts);
        o.flag("hostbasedauthentication", self.hostbased_authentication);
        o.flag("identitiesonly", self.identities_only);
        o.flag(
            "kbdinteractiveauthentication",
            self.kbd_interactive_authentication,
        );
        o.flag(
            "nohostauthenticationforlocalhost",
            self.no_host_authentication_for_localhost,
        );
        o.flag("passwordauthentication", self.password_authentication);
        o.flag("permitlocalcommand", self.permit_local_command);
        o.flag("proxyusefdpass", self.proxy_use_fdpass);
        o.line("pubkeyauthentication", self.pubkey_authentication.name());
        o.line("requesttty", self.request_tty.name());
        o.line("sessiontype", self.session_type.name());
        o.flag("stdinnull", self.stdin_null);
        o.flag("forkafterauthentication", self.fork_after_authentication);
        o.flag("streamlocalbindunlink", self.stream_local_bind_unlink);
        o.line(
            "stricthostkeychecking",
            self.strict_host_key_checking.name(),
        );
        o.flag("tcpkeepalive", self.tcp_keep_alive);
        o.line("tunnel", self.tunnel.name());
        o.line("verifyhostkeydns", self.verify_host_key_dns.name());
        o.flag("visualhostkey", self.visual_host_key);
        o.line("updatehostkeys", self.update_host_keys.name());
        o.flag("enableescapecommandline", self.enable_escape_commandline);

        o.line("canonicalizemaxdots", self.canonicalize_max_dots);
        o.line("connectionattempts", self.connection_attempts);
        o.line("forwardx11timeout", self.forward_x11_timeout);
        o.line("numberofpasswordprompts", self.number_of_password_prompts);
        o.line("serveralivecountmax", self.server_alive_count_max);
        o.line("serveraliveinterval", self.server_alive_interval);
        o.line("requiredrsasize", self.required_rsa_size);

        o.opt("bindaddress", &self.bind_address);
        o.opt("bindinterface", &self.bind_interface);
        o.list("ciphers", &self.ciphers);
        o.opt("controlpath", &self.control_path);
        o.list("hostkeyalgorithms", &self.host_key_algorithms);
        o.opt("hostkeyalias", &self.host_key_alias);
        o.list(
            "hostbasedacceptedalgorithms",
            &self.hostbased_accepted_algorithms,
        );
        o.opt("identityagent", &self.identity_agent);
        o.opt("ignoreunknown", &self.ignore_unknown);
        o.opt("kbdinteractivedevices", &self.kbd_interactive_devices);
        o.list("kexalgorithms", &self.kex_algorithms);
        o.list("casignaturealgorithms", &self.ca_signature_algorithms);
        o.opt("localcommand", &self.local_command);
        o.opt("remotecommand", &self.remote_command);
        o.line("loglevel", self.log_level.name());
        o.list("macs", &self.macs);
        o.opt("pkcs11provider", &self.pkcs11_provider);
        o.opt("securitykeyprovider", &self.security_key_provider);
        o.opt("preferredauthentications", &self.preferred_authentications);
        o.list("pubkeyacceptedalgorithms", &self.pubkey_accepted_algorithms);
        o.opt("revokedhostkeys", &self.revoked_host_keys);
        o.line("xauthlocation", &self.xauth_location);
        o.opt("knownhostscommand", &self.known_hosts_command);

        // OpenSSH prints a local forward to a socket path (no connect host) as dynamic too.
        for f in &self.local_forwards {
            if f.connect_host.is_none() || f.is_dynamic() {
                o.line("dynamicforward", f.dump_dynamic_text());
            }
        }
        for f in self.local_forwards.iter().filter(|f| !f.is_dynamic()) {
            o.line("localforward", f.dump_text());
        }
        for f in &self.remote_forwards {
            o.line("remoteforward", f.dump_text());
        }

        o.each("identityfile", self.identity_files.iter().map(|p| &p.path));
        o.oneline("canonicaldomains", &self.canonical_domains);
        o.each(
            "certificatefile",
            self.certificate_files.iter().map(|p| &p.path),
        );
        o.oneline("globalknownhostsfile", &self.global_known_hosts_files);
        o.oneline("userknownhostsfile", &self.user_known_hosts_files);
        o.each("sendenv", &self.send_env);
        o.each("setenv", &self.set_env);
        o.oneline("logverbose", &self.log_verbose);

        if self.permit_remote_open.is_empty() {
            o.line("permitremoteopen", "any");
        } else {
            o.oneline("permitremoteopen", &self.permit_remote_open);
        }
        let a = self.add_keys_to_agent;
        if a.lifetime == 0 {
            o.line("addkeystoagent", a.mode.name());
        } else {
            let confirm = if a.mode == AddKeysMode::Confirm {
                " confirm"
            } else {
                ""
            };
            let _ = writeln!(o.0, "addkeystoagent{confirm} {}", a.lifetime);
        }
        match &self.forward_agent {
            ForwardAgent::Socket(p) => o.line("forwardagent", p),
            ForwardAgent::Yes => o.flag("forwardagent", true),
            ForwardAgent::No => o.flag("forwardagent", false),
        }
        match self.connect_timeout {
            None => o.line("connecttimeout", "none"),
            Some(t) => o.line("connecttimeout", t),
        }
        let (l, r) = self.tunnel_device;
        o.line(
            "tunneldevice",
            format!("{}:{}", tun_id_name(l), tun_id_name(r)),
        );
        // OpenSSH really spells this one with a capital P.
        if self.canonicalize_permitted_cnames.is_empty() {
            o.line("canonicalizePermittedcnames", "none");
        } else {
            let pairs: Vec<String> = self
                .canonicalize_permitted_cnames
                .iter()
                .map(|(s, t)| format!("{s}:{t}"))
                .collect();
            o.line("canonicalizePermittedcnames", pairs.join(" "));
        }
        match self.control_persist {
            ControlPersist::No => o.line("controlpersist", "no"),
            ControlPersist::Yes => o.line("controlpersist", "yes"),
            ControlPersist::Timeout(t) => o.line("controlpersist", t),
        }
        match self.escape_char {
            EscapeChar::None => o.line("escapechar", "none"),
            EscapeChar::Byte(b) => o.line("escapechar", vis_byte(b)),
        }
        let (qi, qb) = self.ip_qos;
        o.line("ipqos", format!("{} {}", ipqos_name(qi), ipqos_name(qb)));
        o.line(
            "rekeylimit",
            format!("{} {}", self.rekey_limit, self.rekey_interval),
        );
        o.line(
            "streamlocalbindmask",
            format!("0{:o}", self.stream_local_bind_mask),
        );
        o.line("syslogfacility", self.syslog_facility.name());
        match &self.proxy_jump {
            Some(j) => o.line("proxyjump", j.dump_text()),
            None => o.opt("proxycommand", &self.proxy_command),
        }
        o.0
    }
}
