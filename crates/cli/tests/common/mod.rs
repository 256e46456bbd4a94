//! Test harness for redis-lite-cli: start a server (redis-lite or real redis-server) on a free
//! port, and run the CLI (or Debian's redis-cli) against it without a terminal.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const CLI: &str = env!("CARGO_BIN_EXE_redis-lite-cli");

/// Says on stderr, past the test harness's capture, that part of a test did not run.
pub fn skipped(why: &str) {
    let mut err = std::fs::OpenOptions::new().write(true).open("/dev/stderr");
    if let Ok(err) = err.as_mut() {
        let _ = writeln!(err, "SKIPPED: {why}");
    }
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
}

/// redis-lite-server, built beside the CLI by `cargo test --workspace` or `cargo build`.
pub fn lite_binary() -> Option<PathBuf> {
    let path = PathBuf::from(CLI).with_file_name("redis-lite-server");
    path.is_file().then_some(path)
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rlcli-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    program: PathBuf,
    args: Vec<String>,
}

impl Server {
    /// redis-lite, or None (with a SKIPPED note) when its binary has not been built.
    pub fn lite(extra: &[&str]) -> Option<Server> {
        match lite_binary() {
            Some(p) => Some(Server::start(p, extra)),
            None => {
                skipped("redis-lite-server is not built (run `cargo build -p redis-lite-server`)");
                None
            }
        }
    }

    /// Real redis-server, or None (with a SKIPPED note) when it is not installed.
    pub fn redis(extra: &[&str]) -> Option<Server> {
        match which("redis-server") {
            Some(p) => {
                let mut args = vec![
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--enable-debug-command",
                    "yes",
                ];
                args.extend_from_slice(extra);
                Some(Server::start(p, &args))
            }
            None => {
                skipped("redis-server is not on PATH");
                None
            }
        }
    }

    /// Any server: redis-lite if built, else redis-server.
    pub fn any(extra: &[&str]) -> Option<Server> {
        if lite_binary().is_some() {
            return Server::lite(extra);
        }
        Server::redis(extra)
    }

    fn start(program: PathBuf, extra: &[&str]) -> Server {
        let port = free_port();
        let dir = scratch_dir("srv");
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = spawn(&program, &args, &dir);
        let server = Server {
            child,
            port,
            dir,
            program,
            args,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server; `start_again` brings it back on the same port.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn start_again(&mut self) {
        self.child = spawn(&self.program, &self.args, &self.dir);
        self.wait_ready();
    }
}

fn spawn(program: &PathBuf, args: &[String], dir: &PathBuf) -> Child {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `program args` with `stdin` fed in, without a terminal.
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// Runs redis-lite-cli against `port` with `args`.
pub fn cli(port: u16, args: &[&str]) -> Output {
    let port = port.to_string();
    let mut all = vec!["-p", &port];
    all.extend_from_slice(args);
    run(CLI, &all, b"")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
