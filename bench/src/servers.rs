//! The two servers under test, started side by side with equivalent configurations,
//! and the key material they share. Both run as root and serve `oxssh-test` by key.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{procfs, Res};

/// The account the sessions run as (shell /bin/sh: no heavy start-up files).
pub const USER: &str = "oxssh-test";
/// sshd's MaxStartups in the benchmark (the default 10:30:100 would refuse connections
/// at 32 concurrent clients and while 2,000 sessions are being opened).
pub const MAX_STARTUPS: u32 = 10_000;

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    OpenSsh,
    Oxssh,
}

/// Keys and configuration files in a private directory, removed on drop.
#[derive(Debug)]
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub user_key: PathBuf,
    pub host_key: PathBuf,
    pub authorized_keys: PathBuf,
}

fn check(cmd: &mut Command, what: &str) -> Res<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

/// Creates `USER` if missing (as the test suite does) and the key material.
pub fn prepare() -> Res<Setup> {
    let have_user = Command::new("id")
        .arg(USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !have_user {
        check(
            Command::new("useradd").args([
                "--create-home",
                "--home-dir",
                "/tmp/oxssh-test-home",
                "--shell",
                "/bin/sh",
                "--password",
                "*",
                USER,
            ]),
            "useradd",
        )?;
    }
    let dir = tempfile::Builder::new().prefix("oxssh-bench.").tempdir()?;
    // The sessions' user reads authorized_keys from here.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
    let user_key = dir.path().join("id_ed25519");
    let host_key = dir.path().join("host_ed25519");
    for (path, comment) in [(&user_key, "bench-user"), (&host_key, "bench-host")] {
        check(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(path),
            "ssh-keygen",
        )?;
    }
    let authorized_keys = dir.path().join("authorized_keys");
    fs::copy(user_key.with_extension("pub"), &authorized_keys)?;
    fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))?;
    Ok(Setup {
        dir,
        user_key,
        host_key,
        authorized_keys,
    })
}

/// A free loopback port (bound, read, released).
fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The configuration both servers get, apart from port and PID file.
fn config(setup: &Setup, port: u16, pid_file: &Path, which: Impl) -> String {
    // Each server's own SFTP server: Debian's sftp-server for sshd, internal-sftp.
    let subsystem = match which {
        Impl::OpenSsh => "/usr/lib/openssh/sftp-server",
        Impl::Oxssh => "internal-sftp",
    };
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         PidFile {pid_file}\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile {ak}\n\
         StrictModes no\n\
         AllowUsers {USER}\n\
         MaxStartups {MAX_STARTUPS}\n\
         MaxSessions 10\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         UseDNS no\n\
         LogLevel ERROR\n\
         Subsystem sftp {subsystem}\n",
        host_key = setup.host_key.display(),
        pid_file = pid_file.display(),
        ak = setup.authorized_keys.display(),
    )
}

/// A CPU-accounting control group holding one server and everything it forks, so that
/// processes that exit unreaped by their parent still count (OpenSSH's post-auth child is
/// left to init by its monitor, so /proc's cutime never sees it).
#[derive(Debug)]
pub struct CpuGroup {
    dir: PathBuf,
    /// File with the CPU time used; `usage_usec` line (v2) or nanoseconds (v1 cpuacct).
    file: PathBuf,
    v2: bool,
}

impl CpuGroup {
    /// A new group under cgroup v1 cpuacct or cgroup v2, with `pid` moved into it.
    fn create(name: &str, pid: u32) -> Option<CpuGroup> {
        let candidates = [
            ("/sys/fs/cgroup/cpuacct", "cpuacct.usage", false),
            ("/sys/fs/cgroup/unified", "cpu.stat", true),
            ("/sys/fs/cgroup", "cpu.stat", true),
        ];
        for (root, file, v2) in candidates {
            if !Path::new(root)
                .join(if v2 { "cgroup.procs" } else { file })
                .exists()
            {
                continue;
            }
            let dir = Path::new(root).join(name);
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let group = CpuGroup {
                file: dir.join(file),
                dir,
                v2,
            };
            if fs::write(group.dir.join("cgroup.procs"), pid.to_string()).is_ok()
                && group.seconds().is_some()
            {
                return Some(group);
            }
            drop(group);
        }
        None
    }

    /// CPU seconds used by the group's processes, alive or gone.
    pub fn seconds(&self) -> Option<f64> {
        let text = fs::read_to_string(&self.file).ok()?;
        if self.v2 {
            let usec: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))?
                .trim()
                .parse()
                .ok()?;
            Some(usec / 1e6)
        } else {
            let ns: f64 = text.trim().parse().ok()?;
            Some(ns / 1e9)
        }
    }

    /// Where the figures come from, for the report.
    pub fn describe(&self) -> String {
        self.file.display().to_string()
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // Empty once the server's processes have gone; retry briefly while they exit.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running server, killed (by its PID) and reaped on drop.
#[derive(Debug)]
pub struct Server {
    pub which: Impl,
    pub port: u16,
    pub pid: u32,
    /// The process name of the server's own processes (`comm`).
    pub comm: &'static str,
    child: Child,
    log: PathBuf,
    /// Declared after `child`: dropped once the server has been killed.
    pub cpu_group: Option<CpuGroup>,
}

impl Server {
    /// Starts `program` (`/usr/sbin/sshd` or `oxsshd`) in the foreground with its config.
    pub fn start(which: Impl, program: &Path, setup: &Setup) -> Res<Server> {
        let (name, comm) = match which {
            Impl::OpenSsh => ("sshd", "sshd"),
            Impl::Oxssh => ("oxsshd", "oxsshd"),
        };
        let port = free_port()?;
        let dir = setup.dir.path();
        let cfg = dir.join(format!("{name}_config"));
        fs::write(
            &cfg,
            config(setup, port, &dir.join(format!("{name}.pid")), which),
        )?;
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(program)
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log)?)
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        let pid = child.id();
        // Moved into its group before it can accept a connection.
        let cpu_group =
            CpuGroup::create(&format!("oxssh-bench-{}-{name}", std::process::id()), pid);
        let mut server = Server {
            which,
            port,
            pid,
            comm,
            child,
            log,
            cpu_group,
        };
        server.wait_listening()?;
        Ok(server)
    }

    fn wait_listening(&mut self) -> Res<()> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("{} exited ({status}): {}", self.comm, self.log_text()).into());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("{} did not listen: {}", self.comm, self.log_text()).into())
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s.trim().to_string()
    }

    /// Waits until the server has no child processes left (every connection's process
    /// and every session command reaped), so that its CPU counters are final.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            if procfs::children(self.pid).is_empty() {
                return true;
            }
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// CPU seconds of the server's processes and everything they have started: from
    /// its control group, else (less exact for sshd) the process tree's /proc times.
    pub fn cpu_secs(&self) -> f64 {
        self.cpu_group
            .as_ref()
            .and_then(CpuGroup::seconds)
            .unwrap_or_else(|| procfs::tree_ticks(self.pid) as f64 / procfs::TICKS_PER_SEC)
    }

    /// "sshd" or "oxsshd".
    pub fn name(&self) -> &'static str {
        self.comm
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The group's Drop (after this) removes it once the processes have gone.
    }
}
