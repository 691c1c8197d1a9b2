//! The keyword table: every keyword OpenSSH 9.2 (as built by Debian, with GSSAPI and PKCS#11)
//! accepts in `ssh_config`, its aliases, and whether oxssh acts on it.
//!
//! This is the one place that says what oxssh supports. A keyword marked
//! [`Support::NotImplemented`] is parsed and validated exactly like OpenSSH (so a bad value is
//! still an error and `-G` still shows it), and every active use of it is recorded in
//! [`crate::ClientConfig::unsupported`] so the program can refuse it with a clear message
//! instead of silently ignoring it.

/// A configuration keyword (OpenSSH's `OpCodes`); aliases map to the same value.
#[allow(missing_docs)] // each variant is the keyword of the same name in ssh_config(5)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Keyword {
    Host,
    Match,
    Include,
    ForwardAgent,
    ForwardX11,
    ForwardX11Trusted,
    ForwardX11Timeout,
    GatewayPorts,
    ExitOnForwardFailure,
    PasswordAuthentication,
    XAuthLocation,
    IdentityFile,
    HostName,
    Port,
    RemoteForward,
    LocalForward,
    PermitRemoteOpen,
    CertificateFile,
    AddKeysToAgent,
    IdentityAgent,
    User,
    EscapeChar,
    ProxyCommand,
    GlobalKnownHostsFile,
    UserKnownHostsFile,
    ConnectionAttempts,
    BatchMode,
    CheckHostIp,
    StrictHostKeyChecking,
    Compression,
    TcpKeepAlive,
    NumberOfPasswordPrompts,
    SyslogFacility,
    LogLevel,
    LogVerbose,
    Ciphers,
    Macs,
    PubkeyAuthentication,
    KbdInteractiveAuthentication,
    KbdInteractiveDevices,
    HostKeyAlias,
    DynamicForward,
    PreferredAuthentications,
    HostbasedAuthentication,
    HostKeyAlgorithms,
    BindAddress,
    BindInterface,
    Pkcs11Provider,
    ClearAllForwardings,
    NoHostAuthenticationForLocalhost,
    EnableSshKeysign,
    RekeyLimit,
    VerifyHostKeyDns,
    ConnectTimeout,
    AddressFamily,
    GssapiAuthentication,
    GssapiDelegateCredentials,
    GssapiKeyExchange,
    GssapiTrustDns,
    GssapiClientIdentity,
    GssapiServerIdentity,
    GssapiRenewalForcesRekey,
    GssapiKexAlgorithms,
    ServerAliveInterval,
    ServerAliveCountMax,
    IdentitiesOnly,
    SendEnv,
    SetEnv,
    ControlPath,
    ControlMaster,
    ControlPersist,
    HashKnownHosts,
    Tunnel,
    TunnelDevice,
    LocalCommand,
    PermitLocalCommand,
    RemoteCommand,
    VisualHostKey,
    KexAlgorithms,
    IpQos,
    RequestTty,
    SessionType,
    StdinNull,
    ForkAfterAuthentication,
    IgnoreUnknown,
    ProxyUseFdpass,
    CanonicalDomains,
    CanonicalizeHostname,
    CanonicalizeMaxDots,
    CanonicalizeFallbackLocal,
    CanonicalizePermittedCnames,
    StreamLocalBindMask,
    StreamLocalBindUnlink,
    RevokedHostKeys,
    FingerprintHash,
    UpdateHostKeys,
    HostbasedAcceptedAlgorithms,
    PubkeyAcceptedAlgorithms,
    CaSignatureAlgorithms,
    ProxyJump,
    SecurityKeyProvider,
    KnownHostsCommand,
    RequiredRsaSize,
    EnableEscapeCommandline,
    /// A keyword OpenSSH silently ignores (`Protocol`).
    Ignored,
    /// A keyword OpenSSH accepts and ignores with a debug message.
    Deprecated,
    /// A keyword OpenSSH rejects with `Unsupported option` but without failing.
    Unsupported,
}

/// Whether oxssh acts on a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Support {
    /// Parsed, resolved and meant to be honoured by the oxssh client.
    Implemented,
    /// Parsed and shown by `-G` like OpenSSH, but oxssh does not act on it yet; uses are
    /// recorded so the program can refuse them.
    NotImplemented,
    /// Ignored by OpenSSH itself (deprecated, removed, or never meaningful).
    Obsolete,
}

/// One row of the keyword table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordInfo {
    /// The lower-case name as it appears in the table (aliases have their own rows).
    pub name: &'static str,
    /// The keyword it selects.
    pub keyword: Keyword,
    /// Whether oxssh acts on it.
    pub support: Support,
}

use Keyword as K;
use Support::{Implemented as Y, NotImplemented as N, Obsolete as O};

const fn row(name: &'static str, keyword: Keyword, support: Support) -> KeywordInfo {
    KeywordInfo {
        name,
        keyword,
        support,
    }
}

/// Every keyword, in OpenSSH's table order. The first row of a keyword gives its canonical
/// name (used in messages and by `-G`).
pub static KEYWORDS: &[KeywordInfo] = &[
    // Deprecated and removed options, as OpenSSH lists them.
    row("protocol", K::Ignored, O),
    row("cipher", K::Deprecated, O),
    row("fallbacktorsh", K::Deprecated, O),
    row("globalknownhostsfile2", K::Deprecated, O),
    row("rhostsauthentication", K::Deprecated, O),
    row("userknownhostsfile2", K::Deprecated, O),
    row("useroaming", K::Deprecated, O),
    row("usersh", K::Deprecated, O),
    row("useprivilegedport", K::Deprecated, O),
    row("afstokenpassing", K::Unsupported, O),
    row("kerberosauthentication", K::Unsupported, O),
    row("kerberostgtpassing", K::Unsupported, O),
    row("rsaauthentication", K::Unsupported, O),
    row("rhostsrsaauthentication", K::Unsupported, O),
    row("compressionlevel", K::Unsupported, O),
    // GSSAPI (Debian builds carry the key-exchange patch and its extra keywords).
    row("gssapiauthentication", K::GssapiAuthentication, N),
    row("gssapikeyexchange", K::GssapiKeyExchange, N),
    row("gssapidelegatecredentials", K::GssapiDelegateCredentials, N),
    row("gssapitrustdns", K::GssapiTrustDns, N),
    row("gssapiclientidentity", K::GssapiClientIdentity, N),
    row("gssapiserveridentity", K::GssapiServerIdentity, N),
    row("gssapirenewalforcesrekey", K::GssapiRenewalForcesRekey, N),
    row("gssapikexalgorithms", K::GssapiKexAlgorithms, N),
    row("pkcs11provider", K::Pkcs11Provider, N),
    row("smartcarddevice", K::Pkcs11Provider, N),
    row("forwardagent", K::ForwardAgent, Y),
    row("forwardx11", K::ForwardX11, N),
    row("forwardx11trusted", K::ForwardX11Trusted, N),
    row("forwardx11timeout", K::ForwardX11Timeout, N),
    row("exitonforwardfailure", K::ExitOnForwardFailure, Y),
    row("xauthlocation", K::XAuthLocation, N),
    row("gatewayports", K::GatewayPorts, Y),
    row("passwordauthentication", K::PasswordAuthentication, Y),
    row(
        "kbdinteractiveauthentication",
        K::KbdInteractiveAuthentication,
        Y,
    ),
    row("kbdinteractivedevices", K::KbdInteractiveDevices, N),
    row(
        "challengeresponseauthentication",
        K::KbdInteractiveAuthentication,
        Y,
    ),
    row("skeyauthentication", K::KbdInteractiveAuthentication, Y),
    row("tisauthentication", K::KbdInteractiveAuthentication, Y),
    row("pubkeyauthentication", K::PubkeyAuthentication, Y),
    row("dsaauthentication", K::PubkeyAuthentication, Y),
    row("hostbasedauthentication", K::HostbasedAuthentication, N),
    row("identityfile", K::IdentityFile, Y),
    row("identityfile2", K::IdentityFile, Y),
    row("identitiesonly", K::IdentitiesOnly, Y),
    row("certificatefile", K::CertificateFile, Y),
    row("addkeystoagent", K::AddKeysToAgent, Y),
    row("identityagent", K::IdentityAgent, Y),
    row("hostname", K::HostName, Y),
    row("hostkeyalias", K::HostKeyAlias, N),
    row("proxycommand", K::ProxyCommand, Y),
    row("port", K::Port, Y),
    row("ciphers", K::Ciphers, Y),
    row("macs", K::Macs, Y),
    row("remoteforward", K::RemoteForward, Y),
    row("localforward", K::LocalForward, Y),
    row("permitremoteopen", K::PermitRemoteOpen, N),
    row("user", K::User, Y),
    row("host", K::Host, Y),
    row("match", K::Match, Y),
    row("escapechar", K::EscapeChar, Y),
    row("globalknownhostsfile", K::GlobalKnownHostsFile, Y),
    row("userknownhostsfile", K::UserKnownHostsFile, Y),
    row("connectionattempts", K::ConnectionAttempts, Y),
    row("batchmode", K::BatchMode, Y),
    row("checkhostip", K::CheckHostIp, Y),
    row("stricthostkeychecking", K::StrictHostKeyChecking, Y),
    row("compression", K::Compression, Y),
    row("tcpkeepalive", K::TcpKeepAlive, Y),
    row("keepalive", K::TcpKeepAlive, Y),
    row("numberofpasswordprompts", K::NumberOfPasswordPrompts, Y),
    row("syslogfacility", K::SyslogFacility, N),
    row("loglevel", K::LogLevel, Y),
    row("logverbose", K::LogVerbose, N),
    row("dynamicforward", K::DynamicForward, Y),
    row("preferredauthentications", K::PreferredAuthentications, Y),
    row("hostkeyalgorithms", K::HostKeyAlgorithms, Y),
    row("casignaturealgorithms", K::CaSignatureAlgorithms, N),
    row("bindaddress", K::BindAddress, Y),
    row("bindinterface", K::BindInterface, N),
    row("clearallforwardings", K::ClearAllForwardings, Y),
    row("enablesshkeysign", K::EnableSshKeysign, N),
    row("verifyhostkeydns", K::VerifyHostKeyDns, N),
    row(
        "nohostauthenticationforlocalhost",
        K::NoHostAuthenticationForLocalhost,
        N,
    ),
    row("rekeylimit", K::RekeyLimit, Y),
    row("connecttimeout", K::ConnectTimeout, Y),
    row("addressfamily", K::AddressFamily, Y),
    row("serveraliveinterval", K::ServerAliveInterval, Y),
    row("serveralivecountmax", K::ServerAliveCountMax, Y),
    row("sendenv", K::SendEnv, Y),
    row("setenv", K::SetEnv, Y),
    row("controlpath", K::ControlPath, Y),
    row("controlmaster", K::ControlMaster, Y),
    row("controlpersist", K::ControlPersist, Y),
    row("hashknownhosts", K::HashKnownHosts, Y),
    row("include", K::Include, Y),
    row("tunnel", K::Tunnel, N),
    row("tunneldevice", K::TunnelDevice, N),
    row("localcommand", K::LocalCommand, N),
    row("permitlocalcommand", K::PermitLocalCommand, Y),
    row("remotecommand", K::RemoteCommand, Y),
    row("visualhostkey", K::VisualHostKey, Y),
    row("kexalgorithms", K::KexAlgorithms, Y),
    row("ipqos", K::IpQos, N),
    row("requesttty", K::RequestTty, Y),
    row("sessiontype", K::SessionType, Y),
    row("stdinnull", K::StdinNull, Y),
    row("forkafterauthentication", K::ForkAfterAuthentication, Y),
    row("proxyusefdpass", K::ProxyUseFdpass, Y),
    row("canonicaldomains", K::CanonicalDomains, Y),
    row("canonicalizefallbacklocal", K::CanonicalizeFallbackLocal, Y),
    row("canonicalizehostname", K::CanonicalizeHostname, Y),
    row("canonicalizemaxdots", K::CanonicalizeMaxDots, Y),
    row(
        "canonicalizepermittedcnames",
        K::CanonicalizePermittedCnames,
        Y,
    ),
    row("streamlocalbindmask", K::StreamLocalBindMask, N),
    row("streamlocalbindunlink", K::StreamLocalBindUnlink, N),
    row("revokedhostkeys", K::RevokedHostKeys, N),
    row("fingerprinthash", K::FingerprintHash, N),
    row("updatehostkeys", K::UpdateHostKeys, Y),
    row(
        "hostbasedacceptedalgorithms",
        K::HostbasedAcceptedAlgorithms,
        N,
    ),
    row("hostbasedkeytypes", K::HostbasedAcceptedAlgorithms, N),
    row("pubkeyacceptedalgorithms", K::PubkeyAcceptedAlgorithms, Y),
    row("pubkeyacceptedkeytypes", K::PubkeyAcceptedAlgorithms, Y),
    row("ignoreunknown", K::IgnoreUnknown, Y),
    row("proxyjump", K::ProxyJump, Y),
    row("securitykeyprovider", K::SecurityKeyProvider, N),
    row("knownhostscommand", K::KnownHostsCommand, N),
    row("requiredrsasize", K::RequiredRsaSize, N),
    row("enableescapecommandline", K::EnableEscapeCommandline, Y),
];

/// Looks up a lower-case keyword (OpenSSH compares after lower-casing, with `strcmp`).
pub fn lookup(name: &str) -> Option<&'static KeywordInfo> {
    KEYWORDS.iter().find(|k| k.name == name)
}

impl Keyword {
    /// The canonical lower-case name: the first table row for this keyword.
    pub fn name(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|k| k.keyword == self)
            .map_or("UNKNOWN", |k| k.name)
    }

    /// Whether oxssh acts on this keyword (see [`Support`]).
    pub fn support(self) -> Support {
        KEYWORDS
            .iter()
            .find(|k| k.keyword == self)
            .map_or(Support::Obsolete, |k| k.support)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_share_the_canonical_name() {
        let k = lookup("challengeresponseauthentication").unwrap().keyword;
        assert_eq!(k.name(), "kbdinteractiveauthentication");
        assert_eq!(
            lookup("pubkeyacceptedkeytypes").unwrap().keyword.name(),
            "pubkeyacceptedalgorithms"
        );
        assert_eq!(
            lookup("smartcarddevice").unwrap().keyword.name(),
            "pkcs11provider"
        );
    }

    #[test]
    fn names_are_lower_case_and_unique() {
        for (i, k) in KEYWORDS.iter().enumerate() {
            assert_eq!(k.name, k.name.to_ascii_lowercase());
            assert!(
                KEYWORDS.iter().skip(i + 1).all(|o| o.name != k.name),
                "{}",
                k.name
            );
        }
    }

    #[test]
    fn unknown_keywords_are_not_found() {
        assert!(lookup("foo").is_none());
        assert!(lookup("Port").is_none());
    }

    #[test]
    fn requested_keywords_are_implemented() {
        for name in [
            "hostname",
            "user",
            "port",
            "identityfile",
            "identitiesonly",
            "identityagent",
            "ciphers",
            "macs",
            "kexalgorithms",
            "hostkeyalgorithms",
            "pubkeyacceptedalgorithms",
            "stricthostkeychecking",
            "userknownhostsfile",
            "hashknownhosts",
            "preferredauthentications",
            "passwordauthentication",
            "pubkeyauthentication",
            "kbdinteractiveauthentication",
            "batchmode",
            "connecttimeout",
            "connectionattempts",
            "serveraliveinterval",
            "serveralivecountmax",
            "tcpkeepalive",
            "rekeylimit",
            "compression",
            "requesttty",
            "sendenv",
            "setenv",
            "loglevel",
            "addressfamily",
            "bindaddress",
            "escapechar",
        ] {
            assert_eq!(
                lookup(name).unwrap().support,
                Support::Implemented,
                "{name}"
            );
        }
    }
}
