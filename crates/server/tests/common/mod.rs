//! Shared test harness: start redis-lite (and real redis-server, when installed) on free
//! loopback ports, talk to them through the `redis` crate or raw RESP bytes, and compare the two
//! servers' replies byte for byte.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const LITE: &str = env!("CARGO_BIN_EXE_redis-lite-server");

/// How a server process is started besides its arguments.
#[derive(Default)]
struct Process<'a> {
    /// Environment variables added to the test's.
    env: &'a [(&'a str, &'a str)],
    /// `ulimit -n` for the server.
    fd_limit: Option<u64>,
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Whether dropping the server deletes `dir` (not when a test restarts servers on it).
    owns_dir: bool,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().unwrap().port()
}

fn scratch_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("redis-lite-test-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    /// Starts redis-lite with extra `--directive value` arguments.
    pub fn lite(args: &[&str]) -> Server {
        Self::spawn(LITE, "lite", None, args, &[])
    }

    /// Starts redis-lite with `env` added to its environment (REDIS_LITE_ENCRYPTION_KEY...).
    pub fn lite_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let process = Process {
            env,
            fd_limit: None,
        };
        Self::spawn_with(
            LITE,
            scratch_dir("lite"),
            true,
            None,
            args,
            &[],
            true,
            process,
        )
    }

    /// Starts redis-lite working in `dir` (its data files go there), which outlives it.
    pub fn lite_in(dir: &std::path::Path, args: &[&str]) -> Server {
        Self::spawn_with(
            LITE,
            dir.to_path_buf(),
            false,
            None,
            args,
            &[],
            true,
            Process::default(),
        )
    }

    /// Like `lite_in`, but returns as soon as the server answers, while it may still be
    /// loading its data files.
    pub fn lite_in_loading(dir: &std::path::Path, args: &[&str]) -> Server {
        Self::spawn_with(
            LITE,
            dir.to_path_buf(),
            false,
            None,
            args,
            &[],
            false,
            Process::default(),
        )
    }

    /// Starts real redis-server on the data files in `dir`, or None when it is not installed.
    pub fn redis_in(dir: &std::path::Path, args: &[&str]) -> Option<Server> {
        if which("redis-server").is_none() {
            skipped(
                "redis-server is not on PATH; the interoperability part of this test did not run",
            );
            return None;
        }
        let fixed = ["--enable-debug-command", "yes"];
        Some(Self::spawn_with(
            "redis-server",
            dir.to_path_buf(),
            false,
            None,
            args,
            &fixed,
            true,
            Process::default(),
        ))
    }

    /// Starts redis-lite with a config file, which the command line then overrides.
    pub fn lite_with_config(config: &std::path::Path, args: &[&str]) -> Server {
        Self::spawn(LITE, "lite", Some(config), args, &[])
    }

    /// Starts real redis-server, or returns None (and says the test is skipped) when it is not
    /// installed.
    pub fn redis(args: &[&str]) -> Option<Server> {
        if which("redis-server").is_none() {
            skipped("redis-server is not on PATH; the differential part of this test did not run");
            return None;
        }
        Some(Self::spawn(
            "redis-server",
            "redis",
            None,
            args,
            &[
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ],
        ))
    }

    fn spawn(
        program: &str,
        tag: &str,
        config: Option<&std::path::Path>,
        args: &[&str],
        fixed: &[&str],
    ) -> Server {
        Self::spawn_with(
            program,
            scratch_dir(tag),
            true,
            config,
            args,
            fixed,
            true,
            Process::default(),
        )
    }

    /// Starts redis-lite in `dir` under an open-file limit (`ulimit -n fd_limit`, soft and
    /// hard), as a shell started from a login with a low limit would.
    pub fn lite_with_fd_limit(fd_limit: u64, dir: &std::path::Path, args: &[&str]) -> Server {
        let process = Process {
            env: &[],
            fd_limit: Some(fd_limit),
        };
        Self::spawn_with(
            LITE,
            dir.to_path_buf(),
            false,
            None,
            args,
            &[],
            true,
            process,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_with(
        program: &str,
        dir: PathBuf,
        owns_dir: bool,
        config: Option<&std::path::Path>,
        args: &[&str],
        fixed: &[&str],
        wait_loaded: bool,
        process: Process<'_>,
    ) -> Server {
        for attempt in 0..5 {
            let port = free_port();
            let mut cmd = match process.fd_limit {
                Some(n) => {
                    let mut cmd = Command::new("bash");
                    cmd.arg("-c")
                        .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                        .arg(program);
                    cmd
                }
                None => Command::new(program),
            };
            cmd.args(config);
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1");
            if program != LITE {
                cmd.arg("--dir").arg(&dir);
            }
            cmd.args(fixed)
                .args(args)
                .envs(process.env.iter().copied())
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("start {program}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                    let _ = s.write_all(b"PING\r\n");
                    let mut buf = [0u8; 64];
                    let n = s.read(&mut buf).unwrap_or(0);
                    // Until the data files are loaded, everything but a few commands is refused.
                    let loading = buf[..n].starts_with(b"-LOADING");
                    if n > 0 && (!loading || !wait_loaded) {
                        return Server {
                            child,
                            port,
                            dir,
                            owns_dir,
                        };
                    }
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{program} did not start on port {port} (attempt {attempt})");
        }
        panic!("could not start {program}");
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

    pub fn raw(&self) -> Raw {
        Raw::new(TcpStream::connect(("127.0.0.1", self.port)).unwrap())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL and waits.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A directory for a test's data files, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(tag: &str) -> DataDir {
        DataDir(scratch_dir(tag))
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs redis-lite in `dir` expecting it to stop by itself (a start-up that must fail), and
/// returns its exit status and everything it logged.
pub fn lite_exits(dir: &std::path::Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    lite_exits_env(dir, args, &[])
}

/// [`lite_exits`] with `env` added to the server's environment.
pub fn lite_exits_env(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let output = Command::new(LITE)
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-lite");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status, text)
}

/// Says that (part of) a test did not run. Written straight to stderr: the test harness
/// captures `eprintln!` of passing tests, which would hide the message.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
}

/// A raw TCP connection for byte-level checks.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Raw {
    /// Wraps a connected stream (to any of the server's addresses), with a 10 s read timeout.
    pub fn new(stream: TcpStream) -> Raw {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads exactly one complete reply and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(
                n > 0,
                "connection closed with partial reply {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and returns its reply bytes.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&encode(&args));
        self.read_reply()
    }

    /// Like `cmd`, returning the reply as text for readable assertions.
    pub fn cmd_text(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// True when the server has closed the connection (reads EOF within a second).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if it is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after = line_end + 2;
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let items = if n < 0 {
                0
            } else if matches!(buf[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += frame_len(&buf[pos..])?;
            }
            if buf[0] == b'|' {
                // An attribute is followed by the reply it annotates.
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => panic!("not a RESP frame: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// Runs the same commands against redis-lite and real Redis (when installed) on fresh servers,
/// and asserts the raw replies are identical. Each script line is one command; `resp3` switches
/// both connections to RESP3 first. Returns false when real Redis was not available.
pub fn differential(script: &[&[&str]], resp3: bool) -> bool {
    differential_with(script, resp3, &[])
}

/// [`differential_with`] for scripts built at run time (in loops, from generators).
pub fn differential_generated(script: &[Vec<String>], resp3: bool, server_args: &[&str]) -> bool {
    let lines: Vec<Vec<&str>> = script
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let lines: Vec<&[&str]> = lines.iter().map(Vec::as_slice).collect();
    differential_with(&lines, resp3, server_args)
}

/// [`differential`] with extra server arguments given to both servers.
pub fn differential_with(script: &[&[&str]], resp3: bool, server_args: &[&str]) -> bool {
    let Some(redis) = Server::redis(server_args) else {
        return false;
    };
    let lite = Server::lite(&[&["--enable-debug-command", "yes"], server_args].concat());
    let (mut a, mut b) = (redis.raw(), lite.raw());
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    let mut mismatches = Vec::new();
    for cmd in script {
        let expected = a.cmd(cmd);
        let actual = b.cmd(cmd);
        if expected != actual {
            mismatches.push(format!(
                "{:?}\n    redis: {:?}\n    lite:  {:?}",
                cmd.join(" "),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "replies differ from real Redis:\n{}",
        mismatches.join("\n")
    );
    true
}

/// The keyspace notifications a script produces: runs it on one connection while another,
/// subscribed to every keyspace and keyevent channel, records (channel, message) pairs.
pub fn notifications(server: &Server, script: &[&[&str]]) -> Vec<(String, String)> {
    notifications_with(server, "KEA", script)
}

/// [`notifications`] with the given `notify-keyspace-events` flags.
pub fn notifications_with(
    server: &Server,
    flags: &str,
    script: &[&[&str]],
) -> Vec<(String, String)> {
    let mut control = server.raw();
    control.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    let mut listener = server.raw();
    listener.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    for cmd in script {
        control.cmd(cmd);
    }
    // A marker event ends the recording: everything before it was caused by the script.
    control.cmd(&["SELECT", "15"]);
    control.cmd(&["SET", "__end__", "1"]);
    let mut events = Vec::new();
    loop {
        let frame = listener.read_reply();
        let text = String::from_utf8_lossy(&frame).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        // *4 $8 pmessage $len pattern $len channel $len message
        let (channel, message) = (parts[6].to_string(), parts[8].to_string());
        if message == "__end__" || channel.ends_with(":__end__") {
            if channel.starts_with("__keyevent") {
                break;
            }
            continue;
        }
        events.push((channel, message));
    }
    events
}

/// Asserts a script emits the same keyspace notifications on redis-lite as on real Redis.
pub fn differential_notifications(script: &[&[&str]]) {
    differential_notifications_with("KEA", script)
}

/// [`differential_notifications`] with the given `notify-keyspace-events` flags.
pub fn differential_notifications_with(flags: &str, script: &[&[&str]]) {
    let lite = Server::lite(&[]);
    let got = notifications_with(&lite, flags, script);
    let Some(redis) = Server::redis(&[]) else {
        assert!(
            !got.is_empty() || script.is_empty(),
            "no notifications at all"
        );
        return;
    };
    let expected = notifications_with(&redis, flags, script);
    assert_eq!(got, expected, "notifications differ from real Redis");
}

/// After a crash and a restart: every write a client saw acknowledged is there. Client `id`
/// wrote increasing numbers to `client:<id>`; `acked[id]` is the last one it saw acknowledged.
pub fn assert_acknowledged_writes_survived(server: &Server, acked: &[u64], trial: u64) {
    let mut raw = server.raw();
    for (id, last) in acked.iter().enumerate() {
        let reply = raw.cmd_text(&["GET", &format!("client:{id}")]);
        let got: u64 = reply
            .lines()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            got >= *last,
            "trial {trial}: client {id} acknowledged {last}, found {reply:?}"
        );
    }
}

/// One field of an INFO section (`INFO <section>`), such as `used_memory`.
pub fn info_field(raw: &mut Raw, section: &str, name: &str) -> String {
    let info = raw.cmd_text(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

/// Waits (up to 30 s) until no BGSAVE or AOF rewrite is running or scheduled.
pub fn wait_background_jobs(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut raw = server.raw();
    let busy = |raw: &mut Raw| {
        [
            "aof_rewrite_in_progress",
            "aof_rewrite_scheduled",
            "rdb_bgsave_in_progress",
        ]
        .iter()
        .any(|field| info_field(raw, "persistence", field) != "0")
    };
    while busy(&mut raw) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
}

/// Waits for the background jobs to finish, and checks that the last AOF rewrite succeeded.
pub fn wait_rewrite_ok(server: &Server) {
    wait_background_jobs(server);
    assert_eq!(
        info_field(
            &mut server.raw(),
            "persistence",
            "aof_last_bgrewrite_status"
        ),
        "ok"
    );
}
