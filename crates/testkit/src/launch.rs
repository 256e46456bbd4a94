//! Starting server processes: which program ([`Program`]), how ([`Launch`], a builder instead of
//! a row of positional arguments), and the running [`Server`], killed (and its scratch
//! directory removed) when dropped. Also free ports, scratch directories, and the one way a test
//! says it was skipped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::resp::Raw;
use crate::wait::poll;

/// How long a server may take to answer after it was started (loading its data files included).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many fresh ports to try before giving up: another process may take a free port between
/// our probe and the server's bind.
const START_ATTEMPTS: usize = 5;

/// Which server program a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// redis-lite-server, as cargo built it from this workspace ([`lite_binary`]).
    Lite,
    /// Real `redis-server` from PATH: the specification redis-lite is compared with.
    Redis,
}

impl Program {
    /// The executable, or None when it is not built (redis-lite) or not installed (Redis).
    pub fn path(self) -> Option<PathBuf> {
        match self {
            Program::Lite => lite_binary(),
            Program::Redis => which("redis-server"),
        }
    }

    /// Whether the program can be started here; says the test is skipped when it cannot.
    pub fn available(self) -> bool {
        if self.path().is_some() {
            return true;
        }
        skipped(match self {
            Program::Lite => {
                "redis-lite-server is not built (run `cargo build -p redis-lite-server`)"
            }
            Program::Redis => "redis-server is not on PATH",
        });
        false
    }

    fn tag(self) -> &'static str {
        match self {
            Program::Lite => "lite",
            Program::Redis => "redis",
        }
    }
}

/// redis-lite-server from the target directory the running test executable was built in
/// (`target/debug/deps/<test>` → `target/debug/redis-lite-server`). In the server crate's own
/// tests that is exactly `env!("CARGO_BIN_EXE_redis-lite-server")`, which cargo builds before
/// them; other crates' tests find it there once the workspace's binaries are built
/// (`cargo test --workspace` builds them all first). None when it has not been built.
pub fn lite_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    if dir.ends_with("deps") {
        dir = dir.parent()?;
    }
    let path = dir.join("redis-lite-server");
    path.is_file().then_some(path)
}

/// How to start a server: the program, its arguments, where it works, and what the process
/// gets besides. `start` returns once it answers.
#[derive(Clone, Debug)]
pub struct Launch {
    program: Program,
    config: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The working directory, which outlives the server; None: a scratch directory the server
    /// owns and removes when dropped.
    dir: Option<PathBuf>,
    /// The `ulimit` option (`-n`: soft and hard, `-Sn`: soft only) and the limit it sets.
    fd_limit: Option<(&'static str, u64)>,
    /// Whether `start` waits until the data files are loaded (PING no longer says LOADING).
    wait_loaded: bool,
    /// Whether the server is a cluster node (it then needs a second port, for the bus).
    cluster_node: bool,
}

impl Launch {
    /// redis-lite built from this workspace.
    pub fn lite() -> Launch {
        Launch::of(Program::Lite)
    }

    /// Real redis-server.
    pub fn redis() -> Launch {
        Launch::of(Program::Redis)
    }

    /// `program`; real Redis with DEBUG enabled, as every test that starts it wants (DEBUG
    /// DIGEST, DEBUG RELOAD...). redis-lite starts with its defaults: some tests check them.
    pub fn of(program: Program) -> Launch {
        let launch = Launch {
            program,
            config: None,
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            fd_limit: None,
            wait_loaded: true,
            cluster_node: false,
        };
        match program {
            Program::Lite => launch,
            Program::Redis => launch.args(&["--enable-debug-command", "yes"]),
        }
    }

    /// A config file, given before the command line (which overrides it).
    pub fn config(mut self, file: &Path) -> Launch {
        self.config = Some(file.to_path_buf());
        self
    }

    /// `--directive value` arguments, after the ones given so far.
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// The AOF on with every write fsynced before it is acknowledged, and no snapshot rules:
    /// what a test that kills the server and counts acknowledged writes needs.
    pub fn durable(self) -> Launch {
        self.args(&[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
    }

    /// No snapshot rules and no AOF: the server writes no data files of its own.
    pub fn no_persistence(self) -> Launch {
        self.args(&["--save", "", "--appendonly", "no"])
    }

    /// An environment variable added to the test's (REDIS_LITE_ENCRYPTION_KEY...).
    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Works in `dir` (data files go there), which outlives the server: a test can restart a
    /// server on the same files.
    pub fn dir(mut self, dir: &Path) -> Launch {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Runs under an open-file limit (`ulimit -n`, soft and hard), as a shell started from a
    /// login with a low limit would.
    pub fn fd_limit(mut self, limit: u64) -> Launch {
        self.fd_limit = Some(("-n", limit));
        self
    }

    /// Runs under a soft open-file limit of `limit`, the hard limit left as it is, so the
    /// server may raise its own limit (as Redis does for `maxclients`).
    pub fn soft_fd_limit(mut self, limit: u64) -> Launch {
        self.fd_limit = Some(("-Sn", limit));
        self
    }

    /// `start` returns as soon as the server answers, while it may still be loading its data.
    pub fn return_while_loading(mut self) -> Launch {
        self.wait_loaded = false;
        self
    }

    /// A cluster node: `--cluster-enabled yes`, its own nodes file in its directory, and a bus
    /// port of its own (the default, port + 10000, is out of range for most free ports).
    pub fn cluster_node(mut self) -> Launch {
        self.cluster_node = true;
        self
    }

    /// Starts the server and waits until it answers (and has loaded its data, unless
    /// [`Launch::return_while_loading`]). Panics when the program is missing or never answers.
    pub fn start(self) -> Server {
        let program = self.program.path().unwrap_or_else(|| {
            panic!(
                "{:?} is not available (redis-lite: build the workspace; Redis: install redis-server)",
                self.program
            )
        });
        let (dir, owns_dir) = match &self.dir {
            Some(dir) => (dir.clone(), false),
            None => (scratch_dir(self.program.tag()), true),
        };
        for attempt in 0..START_ATTEMPTS {
            let port = free_port();
            let cluster_port = self.cluster_node.then(free_port);
            let mut child = self.spawn(&program, &dir, port, cluster_port);
            if self.wait_ready(&mut child, port) {
                return Server {
                    child,
                    port,
                    cluster_port,
                    dir,
                    owns_dir,
                    program,
                    launch: self,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{program:?} did not start on port {port} (attempt {attempt})");
        }
        panic!("could not start {program:?}");
    }

    /// [`Launch::start`], or None (saying the test is skipped) when the program is missing.
    pub fn start_if_available(self) -> Option<Server> {
        self.program.available().then(|| self.start())
    }

    /// Runs the server expecting it to stop by itself (a start-up that must fail), and returns
    /// its exit status and everything it printed.
    pub fn run_until_exit(self) -> (ExitStatus, String) {
        let program = self
            .program
            .path()
            .expect("the server program is available");
        let scratch = DataDir::new("exits");
        let dir = self.dir.clone().unwrap_or_else(|| scratch.0.clone());
        let output = self
            .command(&program, &dir, free_port(), None)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program:?}: {e}"));
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status, text)
    }

    fn spawn(&self, program: &Path, dir: &Path, port: u16, cluster_port: Option<u16>) -> Child {
        self.command(program, dir, port, cluster_port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program:?}: {e}"))
    }

    fn command(&self, program: &Path, dir: &Path, port: u16, cluster_port: Option<u16>) -> Command {
        let mut cmd = match self.fd_limit {
            Some((option, limit)) => {
                let mut cmd = Command::new("bash");
                cmd.arg("-c")
                    .arg(format!("ulimit {option} {limit} && exec \"$0\" \"$@\""))
                    .arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.args(&self.config);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        // redis-lite's files go to its working directory; Redis is told explicitly, so that
        // CONFIG GET dir names the directory the test created.
        if self.program == Program::Redis {
            cmd.arg("--dir").arg(dir);
        }
        if let Some(bus) = cluster_port {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ]);
            cmd.args(["--cluster-port", &bus.to_string()]);
        }
        // Two event loops unless the test says otherwise, whatever the machine's cores: the
        // default on a small machine is one loop, and the tests are there to exercise the
        // paths between loops too.
        if self.program == Program::Lite
            && self.config.is_none()
            && !self.args.iter().any(|arg| arg == "--threads")
        {
            cmd.args(["--threads", "2"]);
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir);
        cmd
    }

    /// Whether the server came to answer PING (past loading, if asked) before it exited or
    /// the start-up time ran out.
    fn wait_ready(&self, child: &mut Child, port: u16) -> bool {
        let answered = poll(START_TIMEOUT, || {
            if let Some(reply) = ping(port) {
                // Until the data files are loaded, everything but a few commands is refused.
                let loading = reply.starts_with(b"-LOADING");
                if !loading || !self.wait_loaded {
                    return Some(true);
                }
            }
            matches!(child.try_wait(), Ok(Some(_))).then_some(false)
        });
        answered == Some(true)
    }
}

/// The first bytes of the reply to an inline PING, or None when nothing answers on `port`.
fn ping(port: u16) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    (n > 0).then(|| buf[..n].to_vec())
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// The cluster bus port of a cluster node.
    pub cluster_port: Option<u16>,
    pub dir: PathBuf,
    /// Whether dropping the server deletes `dir` (not when the test gave the directory).
    owns_dir: bool,
    program: PathBuf,
    launch: Launch,
}

impl Server {
    /// redis-lite with extra `--directive value` arguments.
    pub fn lite(args: &[&str]) -> Server {
        Launch::lite().args(args).start()
    }

    /// redis-lite working in `dir` (its data files go there), which outlives it.
    pub fn lite_in(dir: &Path, args: &[&str]) -> Server {
        Launch::lite().dir(dir).args(args).start()
    }

    /// Real redis-server without persistence, or None (saying the test is skipped) when it is
    /// not installed.
    pub fn redis(args: &[&str]) -> Option<Server> {
        Launch::redis()
            .args(&["--save", "", "--appendonly", "no"])
            .args(args)
            .start_if_available()
    }

    /// redis-lite, and real Redis when it is installed, each labelled and given the same
    /// arguments: for tests that run one scenario on both.
    pub fn lite_and_redis(args: &[&str]) -> Vec<(&'static str, Server)> {
        let mut servers = vec![("redis-lite", Server::lite(args))];
        servers.extend(Server::redis(args).map(|redis| ("redis", redis)));
        servers
    }

    /// A connection that has named itself `name` (so CLIENT LIST shows it).
    pub fn named(&self, name: &str) -> Raw {
        let mut raw = self.raw();
        raw.expect_replies(&[(&["CLIENT", "SETNAME", name], "+OK\r\n")]);
        raw
    }

    /// The executable it was started from (its `argv[0]`).
    pub fn executable(&self) -> &Path {
        &self.program
    }

    pub fn url(&self, resp3: bool) -> String {
        format!(
            "redis://127.0.0.1:{}/{}",
            self.port,
            if resp3 { "?protocol=resp3" } else { "" }
        )
    }

    /// A `redis` crate connection (RESP2).
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url(false))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// A `redis` crate connection that negotiated RESP3 with HELLO 3.
    pub fn client3(&self) -> redis::Connection {
        redis::Client::open(self.url(true))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::new(TcpStream::connect(("127.0.0.1", self.port)).unwrap())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process (SIGSTOP) until the returned guard is dropped (SIGCONT): to its peers
    /// it stops reading and answering without closing a connection, as behind a network
    /// partition. A test that fails meanwhile does not leave it stopped.
    pub fn freeze(&self) -> Frozen {
        signal(self.pid(), "-STOP");
        Frozen { pid: self.pid() }
    }

    /// Sends SIGKILL and waits.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll(timeout, || self.child.try_wait().ok().flatten())
    }

    /// Kills the server and starts it again the same way, on the same port and directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = self
            .launch
            .spawn(&self.program, &self.dir, self.port, self.cluster_port);
        let port = self.port;
        assert!(
            self.launch.wait_ready(&mut self.child, port),
            "{:?} did not start again on port {port}",
            self.program
        );
    }
}

/// A server stopped by [`Server::freeze`]; it runs again when this is dropped.
pub struct Frozen {
    pid: u32,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.pid, "-CONT");
    }
}

/// Sends a signal (`-STOP`, `-CONT`) to a process with kill(1).
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|status| status.success());
    assert!(sent, "kill {signal} {pid} failed");
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A port nothing listens on now (the kernel's next ephemeral port).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().unwrap().port()
}

/// A new, empty directory under the system's temporary directory.
fn scratch_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("redis-lite-test-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A directory for a test's data files, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(tag: &str) -> DataDir {
        DataDir(scratch_dir(tag))
    }

    /// The directory as text, for command lines.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }

    /// A file in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Says that (part of) a test did not run, and which test (libtest names each test's thread
/// after it). Written straight to stderr: the test harness captures `eprintln!` of passing
/// tests, which would hide the message.
pub fn skipped(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why} (in {test})");
}

/// Whether `program` is on PATH; says the test is skipped when it is not.
pub fn installed(program: &str) -> bool {
    if which(program).is_some() {
        return true;
    }
    skipped(&format!("{program} is not on PATH"));
    false
}

/// Where `program` is on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
