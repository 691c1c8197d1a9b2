//! The `sshd_config` keyword table: every keyword OpenSSH 9.2 (Debian build) accepts, its
//! aliases, whether it may appear inside `Match`, how its value is parsed, and whether oxsshd
//! acts on it. This is the one place that says what the server supports.

/// How a keyword's value is parsed (and which sshd rule decides repeated lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// `yes` / `no`.
    Flag,
    /// One word from a fixed set: (accepted word, the word `-T` prints).
    Choice(&'static [(&'static str, &'static str)]),
    /// An integer `0..=INT_MAX`.
    Int,
    /// A time (`90`, `2m`, `1h30m`).
    Time,
    /// One argument (a path, a user, `none`); first value wins.
    Word,
    /// The rest of the line as written (`ForceCommand`).
    RestOfLine,
    /// A port; every line adds one.
    Port,
    /// `host`, `host:port`, `[v6]:port`, optionally `rdomain name`; accumulates.
    ListenAddress,
    /// A path; every line adds one.
    HostKey,
    /// An algorithm list with `+ - ^` edits.
    Algorithms(AlgKind),
    /// `QUIET` ... `DEBUG3`.
    LogLevel,
    /// `DAEMON`, `USER`, `AUTH`, `AUTHPRIV`, `LOCAL0`..`LOCAL7`.
    Facility,
    /// `start:rate:full` or `start`.
    MaxStartups,
    /// `bytes [interval]`.
    RekeyLimit,
    /// User or group patterns (`user@host` allowed for users); accumulates.
    Patterns,
    /// Environment variable names (no `=`); accumulates.
    AcceptEnv,
    /// `NAME=value` pairs; the first line wins.
    SetEnv,
    /// Several file patterns; the first line wins.
    AuthorizedKeysFile,
    /// Comma-separated method lists (or `any`); the first line wins.
    AuthenticationMethods,
    /// A name and a command.
    Subsystem,
    /// `yes`, `no`, or a pattern list of variable names.
    PermitUserEnvironment,
    /// `yes`, `point-to-point`, `ethernet`, `no`.
    PermitTunnel,
    /// `host:port` specifications (`any`, `none`); the first line wins.
    PermitOpen,
    /// One or two IPQoS names or numbers.
    IpQos,
    /// Anything, kept as written (keywords oxsshd does not model in detail).
    Words,
    /// `Include` file globs.
    Include,
    /// A `Match` line.
    Match,
    /// Accepted with "Deprecated option" and ignored.
    Deprecated,
    /// Accepted silently and ignored (`Protocol`).
    Ignored,
}

/// Which algorithm list a keyword edits; decides validation and the error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgKind {
    /// `Ciphers`.
    Cipher,
    /// `MACs`.
    Mac,
    /// `KexAlgorithms`.
    Kex,
    /// Key or signature types (wildcards allowed).
    KeyTypes,
    /// `CASignatureAlgorithms`.
    CaSignatures,
}

/// What oxsshd does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshdSupport {
    /// Implemented as sshd does.
    Supported,
    /// Parsed and validated, not acted on: a feature a client must ask for, which oxsshd
    /// refuses as if disabled. An explicit value other than `inert` is recorded in
    /// [`super::SshdConfig::not_acted_on`] so the program can print it.
    NotActedOn {
        /// Values (lower-case, as written) for which oxsshd behaves exactly like sshd.
        inert: &'static [&'static str],
    },
    /// Parsed and validated; an active value other than `inert` fails start-up, because
    /// ignoring it would change who can log in or what they may do.
    Refused {
        /// Values (lower-case, as written) for which oxsshd behaves exactly like sshd.
        inert: &'static [&'static str],
    },
}

/// One row of [`SSHD_KEYWORDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshdKeywordInfo {
    /// The keyword as spelled in sshd_config(5) (aliases have their own row).
    pub name: &'static str,
    /// The option it sets, as `sshd -T` prints it (the same for a keyword and its aliases).
    pub option: &'static str,
    /// Whether it may appear inside a `Match` block.
    pub in_match: bool,
    /// How its value is parsed.
    pub kind: ValueKind,
    /// Whether oxsshd acts on it.
    pub support: SshdSupport,
}

const FLAG: ValueKind = ValueKind::Flag;
const WORD: ValueKind = ValueKind::Word;
const WORDS: ValueKind = ValueKind::Words;
const S: SshdSupport = SshdSupport::Supported;
const NO: &[&str] = &["no"];
const NONE: &[&str] = &["none"];

/// Refused unless set to one of `inert`.
const fn refused(inert: &'static [&'static str]) -> SshdSupport {
    SshdSupport::Refused { inert }
}

/// Accepted, listed as not acted on unless set to one of `inert`.
const fn noted(inert: &'static [&'static str]) -> SshdSupport {
    SshdSupport::NotActedOn { inert }
}

const fn kw(
    name: &'static str,
    option: &'static str,
    in_match: bool,
    kind: ValueKind,
    support: SshdSupport,
) -> SshdKeywordInfo {
    SshdKeywordInfo {
        name,
        option,
        in_match,
        kind,
        support,
    }
}

/// `AddressFamily` words.
pub const ADDRESS_FAMILY: &[(&str, &str)] = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
/// `PermitRootLogin` words (`prohibit-password` prints as `without-password`).
pub const PERMIT_ROOT_LOGIN: &[(&str, &str)] = &[
    ("without-password", "without-password"),
    ("prohibit-password", "without-password"),
    ("forced-commands-only", "forced-commands-only"),
    ("yes", "yes"),
    ("no", "no"),
];
/// `Compression` words (`delayed` is `yes`).
pub const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("delayed", "yes"), ("no", "no")];
/// `GatewayPorts` words.
pub const GATEWAY_PORTS: &[(&str, &str)] = &[
    ("clientspecified", "clientspecified"),
    ("yes", "yes"),
    ("no", "no"),
];
/// `AllowTcpForwarding` / `AllowStreamLocalForwarding` words.
pub const TCP_FWD: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("all", "yes"),
    ("no", "no"),
    ("local", "local"),
    ("remote", "remote"),
];
/// `IgnoreRhosts` words.
pub const IGNORE_RHOSTS: &[(&str, &str)] =
    &[("yes", "yes"), ("no", "no"), ("shosts-only", "shosts-only")];
/// `FingerprintHash` words.
pub const FINGERPRINT_HASH: &[(&str, &str)] = &[("md5", "MD5"), ("sha256", "SHA256")];

/// Every keyword sshd 9.2 accepts (Debian build: GSSAPI, Kerberos, `DebianBanner`).
#[rustfmt::skip]
pub const SSHD_KEYWORDS: &[SshdKeywordInfo] = &[
    kw("Port", "port", false, ValueKind::Port, S),
    kw("HostKey", "hostkey", false, ValueKind::HostKey, S),
    kw("HostDsaKey", "hostkey", false, ValueKind::HostKey, S),
    kw("HostKeyAgent", "hostkeyagent", false, WORD, refused(NONE)),
    kw("PidFile", "pidfile", false, WORD, S),
    kw("ModuliFile", "modulifile", false, WORD, noted(&[])),
    kw("ServerKeyBits", "", false, ValueKind::Deprecated, S),
    kw("LoginGraceTime", "logingracetime", false, ValueKind::Time, S),
    kw("KeyRegenerationInterval", "", false, ValueKind::Deprecated, S),
    kw("PermitRootLogin", "permitrootlogin", true, ValueKind::Choice(PERMIT_ROOT_LOGIN), S),
    kw("SyslogFacility", "syslogfacility", false, ValueKind::Facility, S),
    kw("LogLevel", "loglevel", true, ValueKind::LogLevel, S),
    kw("LogVerbose", "logverbose", true, WORDS, noted(NONE)),
    kw("RhostsAuthentication", "", false, ValueKind::Deprecated, S),
    kw("RhostsRSAAuthentication", "", true, ValueKind::Deprecated, S),
    kw("HostbasedAuthentication", "hostbasedauthentication", true, FLAG, refused(NO)),
    kw("HostbasedUsesNameFromPacketOnly", "hostbasedusesnamefrompacketonly", true, FLAG, noted(NO)),
    kw("HostbasedAcceptedAlgorithms", "hostbasedacceptedalgorithms", true, ValueKind::Algorithms(AlgKind::KeyTypes), noted(&[])),
    kw("HostbasedAcceptedKeyTypes", "hostbasedacceptedalgorithms", true, ValueKind::Algorithms(AlgKind::KeyTypes), noted(&[])),
    kw("HostKeyAlgorithms", "hostkeyalgorithms", false, ValueKind::Algorithms(AlgKind::KeyTypes), S),
    kw("CASignatureAlgorithms", "casignaturealgorithms", true, ValueKind::Algorithms(AlgKind::CaSignatures), noted(&[])),
    kw("RSAAuthentication", "", true, ValueKind::Deprecated, S),
    kw("PubkeyAuthentication", "pubkeyauthentication", true, FLAG, S),
    kw("PubkeyAcceptedAlgorithms", "pubkeyacceptedalgorithms", true, ValueKind::Algorithms(AlgKind::KeyTypes), S),
    kw("PubkeyAcceptedKeyTypes", "pubkeyacceptedalgorithms", true, ValueKind::Algorithms(AlgKind::KeyTypes), S),
    kw("PubkeyAuthOptions", "pubkeyauthoptions", true, WORDS, refused(NONE)),
    kw("DSAAuthentication", "pubkeyauthentication", false, FLAG, S),
    kw("KerberosAuthentication", "kerberosauthentication", true, FLAG, refused(NO)),
    kw("KerberosOrLocalPasswd", "kerberosorlocalpasswd", false, FLAG, noted(&["yes"])),
    kw("KerberosTicketCleanup", "kerberosticketcleanup", false, FLAG, noted(&["yes"])),
    kw("KerberosGetAFSToken", "kerberosgetafstoken", false, FLAG, noted(NO)),
    kw("KerberosTgtPassing", "", false, ValueKind::Ignored, S),
    kw("AFSTokenPassing", "", false, ValueKind::Ignored, S),
    kw("GSSAPIAuthentication", "gssapiauthentication", true, FLAG, refused(NO)),
    kw("GSSAPICleanupCredentials", "gssapicleanupcredentials", false, FLAG, noted(&["yes"])),
    kw("GSSAPIStrictAcceptorCheck", "gssapistrictacceptorcheck", false, FLAG, noted(&["yes"])),
    kw("GSSAPIKeyExchange", "gssapikeyexchange", false, FLAG, refused(NO)),
    kw("GSSAPIStoreCredentialsOnRekey", "gssapistorecredentialsonrekey", false, FLAG, noted(NO)),
    kw("GSSAPIKexAlgorithms", "gssapikexalgorithms", false, WORDS, noted(&[])),
    kw("PasswordAuthentication", "passwordauthentication", true, FLAG, S),
    kw("KbdInteractiveAuthentication", "kbdinteractiveauthentication", true, FLAG, S),
    kw("ChallengeResponseAuthentication", "kbdinteractiveauthentication", true, FLAG, S),
    kw("SkeyAuthentication", "kbdinteractiveauthentication", true, FLAG, S),
    kw("CheckMail", "", false, ValueKind::Deprecated, S),
    kw("ListenAddress", "listenaddress", false, ValueKind::ListenAddress, S),
    kw("AddressFamily", "addressfamily", false, ValueKind::Choice(ADDRESS_FAMILY), S),
    kw("PrintMotd", "printmotd", false, FLAG, S),
    kw("PrintLastLog", "printlastlog", false, FLAG, S),
    kw("IgnoreRhosts", "ignorerhosts", true, ValueKind::Choice(IGNORE_RHOSTS), noted(&["yes"])),
    kw("IgnoreUserKnownHosts", "ignoreuserknownhosts", false, FLAG, noted(&[])),
    kw("X11Forwarding", "x11forwarding", true, FLAG, noted(NO)),
    kw("X11DisplayOffset", "x11displayoffset", true, ValueKind::Int, noted(&[])),
    kw("X11UseLocalhost", "x11uselocalhost", true, FLAG, noted(&[])),
    kw("XAuthLocation", "xauthlocation", false, WORD, noted(&[])),
    kw("StrictModes", "strictmodes", false, FLAG, S),
    kw("PermitEmptyPasswords", "permitemptypasswords", true, FLAG, S),
    kw("PermitUserEnvironment", "permituserenvironment", false, ValueKind::PermitUserEnvironment, S),
    kw("UseLogin", "", false, ValueKind::Deprecated, S),
    kw("Compression", "compression", false, ValueKind::Choice(COMPRESSION), S),
    kw("RekeyLimit", "rekeylimit", true, ValueKind::RekeyLimit, S),
    kw("TCPKeepAlive", "tcpkeepalive", false, FLAG, S),
    kw("KeepAlive", "tcpkeepalive", false, FLAG, S),
    kw("AllowTcpForwarding", "allowtcpforwarding", true, ValueKind::Choice(TCP_FWD), S),
    kw("AllowAgentForwarding", "allowagentforwarding", true, FLAG, S),
    kw("AllowUsers", "allowusers", true, ValueKind::Patterns, S),
    kw("DenyUsers", "denyusers", true, ValueKind::Patterns, S),
    kw("AllowGroups", "allowgroups", true, ValueKind::Patterns, S),
    kw("DenyGroups", "denygroups", true, ValueKind::Patterns, S),
    kw("Ciphers", "ciphers", false, ValueKind::Algorithms(AlgKind::Cipher), S),
    kw("MACs", "macs", false, ValueKind::Algorithms(AlgKind::Mac), S),
    kw("Protocol", "", false, ValueKind::Ignored, S),
    kw("GatewayPorts", "gatewayports", true, ValueKind::Choice(GATEWAY_PORTS), S),
    kw("Subsystem", "subsystem", false, ValueKind::Subsystem, S),
    kw("MaxStartups", "maxstartups", false, ValueKind::MaxStartups, S),
    kw("PerSourceMaxStartups", "persourcemaxstartups", false, WORD, refused(NONE)),
    kw("PerSourceNetBlockSize", "persourcenetblocksize", false, WORD, refused(&["32:128", "32"])),
    kw("MaxAuthTries", "maxauthtries", true, ValueKind::Int, S),
    kw("MaxSessions", "maxsessions", true, ValueKind::Int, S),
    kw("Banner", "banner", true, WORD, S),
    kw("UseDNS", "usedns", false, FLAG, S),
    kw("VerifyReverseMapping", "", false, ValueKind::Deprecated, S),
    kw("ReverseMappingCheck", "", false, ValueKind::Deprecated, S),
    kw("ClientAliveInterval", "clientaliveinterval", true, ValueKind::Time, S),
    kw("ClientAliveCountMax", "clientalivecountmax", true, ValueKind::Int, S),
    kw("AuthorizedKeysFile", "authorizedkeysfile", true, ValueKind::AuthorizedKeysFile, S),
    kw("AuthorizedKeysFile2", "", true, ValueKind::Deprecated, S),
    kw("UsePrivilegeSeparation", "", false, ValueKind::Deprecated, S),
    kw("AcceptEnv", "acceptenv", true, ValueKind::AcceptEnv, S),
    kw("SetEnv", "setenv", true, ValueKind::SetEnv, S),
    kw("PermitTunnel", "permittunnel", true, ValueKind::PermitTunnel, noted(NO)),
    kw("PermitTTY", "permittty", true, FLAG, S),
    kw("PermitUserRC", "permituserrc", true, FLAG, S),
    kw("Match", "", true, ValueKind::Match, S),
    kw("PermitOpen", "permitopen", true, ValueKind::PermitOpen, S),
    kw("PermitListen", "permitlisten", true, ValueKind::PermitOpen, S),
    kw("ForceCommand", "forcecommand", true, ValueKind::RestOfLine, S),
    kw("ChrootDirectory", "chrootdirectory", true, WORD, S),
    kw("HostCertificate", "hostcertificate", false, ValueKind::HostKey, S),
    kw("RevokedKeys", "revokedkeys", true, WORD, S),
    kw("TrustedUserCAKeys", "trustedusercakeys", true, WORD, S),
    kw("AuthorizedPrincipalsFile", "authorizedprincipalsfile", true, WORD, S),
    kw("KexAlgorithms", "kexalgorithms", false, ValueKind::Algorithms(AlgKind::Kex), S),
    kw("Include", "", true, ValueKind::Include, S),
    kw("IPQoS", "ipqos", true, ValueKind::IpQos, noted(&[])),
    kw("AuthorizedKeysCommand", "authorizedkeyscommand", true, ValueKind::RestOfLine, refused(NONE)),
    kw("AuthorizedKeysCommandUser", "authorizedkeyscommanduser", true, WORD, noted(NONE)),
    kw("AuthorizedPrincipalsCommand", "authorizedprincipalscommand", true, ValueKind::RestOfLine, refused(NONE)),
    kw("AuthorizedPrincipalsCommandUser", "authorizedprincipalscommanduser", true, WORD, noted(NONE)),
    kw("VersionAddendum", "versionaddendum", false, ValueKind::RestOfLine, noted(NONE)),
    kw("AuthenticationMethods", "authenticationmethods", true, ValueKind::AuthenticationMethods, S),
    kw("StreamLocalBindMask", "streamlocalbindmask", true, WORD, S),
    kw("StreamLocalBindUnlink", "streamlocalbindunlink", true, FLAG, S),
    kw("AllowStreamLocalForwarding", "allowstreamlocalforwarding", true, ValueKind::Choice(TCP_FWD), S),
    kw("FingerprintHash", "fingerprinthash", false, ValueKind::Choice(FINGERPRINT_HASH), noted(&["sha256"])),
    kw("DisableForwarding", "disableforwarding", true, FLAG, S),
    kw("ExposeAuthInfo", "exposeauthinfo", true, FLAG, noted(NO)),
    kw("RDomain", "rdomain", true, WORD, refused(&[])),
    kw("SecurityKeyProvider", "securitykeyprovider", false, WORD, noted(&["internal"])),
    kw("RequiredRSASize", "requiredrsasize", true, ValueKind::Int, refused(&["1024"])),
    kw("ChannelTimeout", "channeltimeout", true, WORDS, refused(NONE)),
    kw("UnusedConnectionTimeout", "unusedconnectiontimeout", true, WORD, refused(NONE)),
    kw("DebianBanner", "debianbanner", false, FLAG, noted(&["yes"])),
    kw("UsePAM", "usepam", false, FLAG, S),
];

/// Looks a keyword up case-insensitively (aliases included).
pub fn lookup(name: &str) -> Option<&'static SshdKeywordInfo> {
    SSHD_KEYWORDS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(name))
}
