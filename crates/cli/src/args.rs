//! Command-line options, parsed the way redis-cli parses them: options first, in any order, up
//! to the first word that is not an option; everything from there on is the command. A
//! hand-written loop, because redis-cli's rules (`-h` needing a value, unknown `-x` words being
//! errors but `SET` ending the options) do not map onto a declarative parser.

use std::io::IsTerminal;

/// How replies are printed (redis-cli's OUTPUT_STANDARD / OUTPUT_RAW).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Standard,
    Raw,
}

/// What the process does once connected.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// No command words: the interactive prompt.
    Interactive,
    /// Run the command words (repeated with `-r`), print the replies, exit.
    OneShot,
    Pipe,
    Scan,
    BigKeys,
    MemKeys,
    Stat,
    Latency,
    Rdb(String),
    /// `--functions-rdb file`: `--rdb` with the functions alone.
    FunctionsRdb(String),
    /// `--eval file`: run the file as a Lua script; the command words are its keys and
    /// arguments.
    Eval(String),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub socket: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub db: i64,
    pub resp3: bool,
    pub output: Output,
    /// `-r`: times to run the command; negative means forever.
    pub repeat: i64,
    /// `-i`: pause between repeats (and between --stat/--latency samples), in seconds.
    pub interval: f64,
    /// `-x`: the last argument is read from stdin.
    pub stdin_last: bool,
    pub pattern: Option<String>,
    pub count: Option<u64>,
    pub pipe_timeout: u64,
    pub no_auth_warning: bool,
    /// `-c`: follow the -MOVED and -ASK redirections of a Redis Cluster.
    pub cluster: bool,
    pub mode: Mode,
    pub command: Vec<Vec<u8>>,
    pub tls: TlsOptions,
}

/// redis-cli's TLS options; the files matter only with `--tls` (or a `rediss://` URI).
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub enabled: bool,
    /// The name sent as SNI (default: the host).
    pub sni: Option<String>,
    pub cacert: String,
    pub cacertdir: String,
    pub cert: String,
    pub key: String,
    /// Trust any server certificate.
    pub insecure: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "127.0.0.1".into(),
            port: 6379,
            socket: None,
            user: None,
            pass: None,
            db: 0,
            resp3: false,
            output: if std::io::stdout().is_terminal() {
                Output::Standard
            } else {
                Output::Raw
            },
            repeat: 1,
            interval: 0.0,
            stdin_last: false,
            pattern: None,
            count: None,
            pipe_timeout: 30,
            no_auth_warning: false,
            cluster: false,
            mode: Mode::Interactive,
            command: Vec::new(),
            tls: TlsOptions::default(),
        }
    }
}

/// Why the process stops before connecting: help or version text (exit 0) or a usage error
/// (exit 1).
#[derive(Debug, PartialEq)]
pub enum Exit {
    Print(String),
    Usage(String),
}

fn bad(arg: &str) -> Exit {
    Exit::Usage(format!(
        "Unrecognized option or bad number of args for: '{arg}'"
    ))
}

pub fn version() -> String {
    format!("redis-lite-cli {}", env!("CARGO_PKG_VERSION"))
}

pub const USAGE: &str = "\
Usage: redis-lite-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  -u <uri>           Server URI: redis[s]://[[user]:pass@]host[:port][/db].
  -r <repeat>        Execute specified command N times (negative: forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     It is possible to specify sub-second times like -i 0.1.
                     Also the sampling interval of --stat and --latency.
  -n <db>            Database number.
  -3                 Start session in RESP3 protocol mode.
  -x                 Read last argument from STDIN.
  -c                 Enable cluster mode (follow -ASK and -MOVED redirections).
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --no-auth-warning  Don't show warning message when using password on command
                     line interface.
  --latency          Enter a special mode continuously sampling latency.
  --stat             Print rolling stats about server: mem, clients, ...
  --rdb <filename>   Transfer an RDB dump from remote server to local file.
 --functions-rdb <filename> Like --rdb but only get the functions (not the keys)
                     when getting the RDB dump file.
  --eval <file>      Send an EVAL command using the Lua script at <file>.
  --pipe             Transfer raw Redis protocol from stdin to server.
  --pipe-timeout <n> In --pipe mode, abort with error if after sending all data.
                     no reply is received within <n> seconds.
                     Default timeout: 30. Use 0 to wait forever.
  --bigkeys          Sample Redis keys looking for keys with many elements (complexity).
  --memkeys          Sample Redis keys looking for keys consuming a lot of memory.
  --scan             List all keys using the SCAN command.
  --pattern <pat>    Keys pattern when using the --scan, --bigkeys or --memkeys
                     options (default: *).
  --count <count>    Count option when using the --scan, --bigkeys or --memkeys (default: 10).
  --tls              Establish a secure TLS connection.
  --sni <host>       Server name indication for TLS.
  --cacert <file>    CA Certificate file to verify with.
  --cacertdir <dir>  Directory where trusted CA certificates are stored.
                     If neither cacert nor cacertdir are specified, the default
                     system-wide trusted root certs configuration will apply.
  --insecure         Allow insecure TLS connection by skipping cert validation.
  --cert <file>      Client certificate to authenticate with.
  --key <file>       Private key file to authenticate with.
  --help             Output this help and exit.
  -v, --version      Output version and exit.

Examples:
  redis-lite-cli -r 100 lpush mylist x
  redis-lite-cli -r 100 -i 1 info | grep used_memory_human:
  cat /etc/passwd | redis-lite-cli -x set mypasswd
  redis-lite-cli --eval myscript.lua key1 key2 , arg1 arg2 arg3
  redis-lite-cli --scan --pattern '*:12345*'

  (Note: when using --eval the comma separates KEYS[] from ARGV[] items)

When no command is given, redis-lite-cli starts in interactive mode.
Type \"help\" in interactive mode for information on available commands.
";

/// `redis://[[user]:pass@]host[:port][/db]` (`rediss://` for TLS), into `options`.
fn parse_uri(uri: &str, o: &mut Options) -> Result<(), Exit> {
    let invalid = || {
        Exit::Usage(format!(
            "Invalid URI scheme or format: '{uri}'\nOnly redis:// and rediss:// URIs are supported"
        ))
    };
    let rest = match uri.strip_prefix("rediss://") {
        Some(rest) => {
            o.tls.enabled = true;
            rest
        }
        None => uri.strip_prefix("redis://").ok_or_else(invalid)?,
    };
    let (auth, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(auth) = auth {
        match auth.split_once(':') {
            Some((user, pass)) => {
                if !user.is_empty() {
                    o.user = Some(user.to_string());
                }
                o.pass = Some(pass.to_string());
            }
            None => o.pass = Some(auth.to_string()),
        }
    }
    let (hostport, db) = match rest.split_once('/') {
        Some((hp, db)) => (hp, Some(db)),
        None => (rest, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            (h, Some(p.parse::<u16>().map_err(|_| invalid())?))
        }
        _ => (hostport, None),
    };
    if !host.is_empty() {
        o.host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
    }
    if let Some(port) = port {
        o.port = port;
    }
    if let Some(db) = db.filter(|d| !d.is_empty()) {
        o.db = db.parse().map_err(|_| invalid())?;
    }
    Ok(())
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Options, Exit> {
    let mut o = Options::default();
    let mut i = 0;
    // The value after option `args[i]`, or the usage error redis-cli gives when it is missing.
    fn value<'a>(args: &'a [String], i: &mut usize) -> Result<&'a str, Exit> {
        let opt = &args[*i];
        *i += 1;
        args.get(*i).map(String::as_str).ok_or_else(|| bad(opt))
    }
    fn number<T: std::str::FromStr>(args: &[String], i: &mut usize) -> Result<T, Exit> {
        let opt = args[*i].clone();
        value(args, i)?.parse().map_err(|_| bad(&opt))
    }
    while i < args.len() {
        match args[i].as_str() {
            "-h" => o.host = value(args, &mut i)?.to_string(),
            "-p" => o.port = number(args, &mut i)?,
            "-s" => o.socket = Some(value(args, &mut i)?.to_string()),
            "-a" | "--pass" => o.pass = Some(value(args, &mut i)?.to_string()),
            "--user" => o.user = Some(value(args, &mut i)?.to_string()),
            "-u" => parse_uri(value(args, &mut i)?, &mut o)?,
            "-n" => o.db = number(args, &mut i)?,
            "-r" => o.repeat = number(args, &mut i)?,
            "-i" => {
                o.interval = number(args, &mut i)?;
                if !o.interval.is_finite() || o.interval < 0.0 {
                    return Err(bad("-i"));
                }
            }
            "-3" => o.resp3 = true,
            "-2" => o.resp3 = false,
            "-x" => o.stdin_last = true,
            "-c" => o.cluster = true,
            "--tls" => o.tls.enabled = true,
            "--sni" => o.tls.sni = Some(value(args, &mut i)?.to_string()),
            "--cacert" => o.tls.cacert = value(args, &mut i)?.to_string(),
            "--cacertdir" => o.tls.cacertdir = value(args, &mut i)?.to_string(),
            "--cert" => o.tls.cert = value(args, &mut i)?.to_string(),
            "--key" => o.tls.key = value(args, &mut i)?.to_string(),
            "--insecure" => o.tls.insecure = true,
            "--raw" => o.output = Output::Raw,
            "--no-raw" => o.output = Output::Standard,
            "--no-auth-warning" => o.no_auth_warning = true,
            "--pipe" => o.mode = Mode::Pipe,
            "--pipe-timeout" => o.pipe_timeout = number(args, &mut i)?,
            "--scan" => o.mode = Mode::Scan,
            "--pattern" => o.pattern = Some(value(args, &mut i)?.to_string()),
            "--count" => o.count = Some(number(args, &mut i)?),
            "--bigkeys" => o.mode = Mode::BigKeys,
            "--memkeys" => o.mode = Mode::MemKeys,
            "--stat" => o.mode = Mode::Stat,
            "--latency" => o.mode = Mode::Latency,
            "--rdb" => o.mode = Mode::Rdb(value(args, &mut i)?.to_string()),
            "--functions-rdb" => o.mode = Mode::FunctionsRdb(value(args, &mut i)?.to_string()),
            "--eval" => o.mode = Mode::Eval(value(args, &mut i)?.to_string()),
            "--help" => return Err(Exit::Print(format!("{}\n\n{USAGE}", version()))),
            "-v" | "--version" => return Err(Exit::Print(version())),
            other if other.starts_with('-') => return Err(bad(other)),
            // The first word that is not an option starts the command.
            _ => break,
        }
        i += 1;
    }
    o.command = args[i..].iter().map(|a| a.as_bytes().to_vec()).collect();
    if !o.command.is_empty() && o.mode == Mode::Interactive {
        o.mode = Mode::OneShot;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Options, Exit> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn options_stop_at_the_first_command_word() {
        let o = p("-p 7000 -n 2 --raw set -x v").unwrap();
        assert_eq!((o.port, o.db, o.output), (7000, 2, Output::Raw));
        assert_eq!(o.mode, Mode::OneShot);
        assert_eq!(
            o.command,
            vec![b"set".to_vec(), b"-x".to_vec(), b"v".to_vec()]
        );
        assert!(!o.stdin_last);
    }

    #[test]
    fn unknown_options_and_missing_values_are_usage_errors() {
        let msg = |r: Result<Options, Exit>| match r {
            Err(Exit::Usage(m)) => m,
            _ => panic!("expected a usage error"),
        };
        assert_eq!(
            msg(p("-q ping")),
            "Unrecognized option or bad number of args for: '-q'"
        );
        assert_eq!(
            msg(p("-h")),
            "Unrecognized option or bad number of args for: '-h'"
        );
        assert_eq!(
            msg(p("-p notaport")),
            "Unrecognized option or bad number of args for: '-p'"
        );
    }

    #[test]
    fn uri_sets_user_password_host_port_and_db() {
        let o = p("-u redis://bob:s3cret@example.com:7001/4").unwrap();
        assert_eq!(o.user.as_deref(), Some("bob"));
        assert_eq!(o.pass.as_deref(), Some("s3cret"));
        assert_eq!((o.host.as_str(), o.port, o.db), ("example.com", 7001, 4));
        let o = p("-u redis://:pw@[::1]:7002").unwrap();
        assert_eq!((o.user, o.pass.as_deref()), (None, Some("pw")));
        assert_eq!((o.host.as_str(), o.port), ("::1", 7002));
        assert!(matches!(p("-u http://x"), Err(Exit::Usage(_))));
    }

    #[test]
    fn tool_modes() {
        assert_eq!(p("--scan --pattern a* --count 5").unwrap().count, Some(5));
        assert_eq!(
            p("--rdb out.rdb").unwrap().mode,
            Mode::Rdb("out.rdb".into())
        );
        assert_eq!(
            p("--functions-rdb f.rdb").unwrap().mode,
            Mode::FunctionsRdb("f.rdb".into())
        );
        assert_eq!(p("--pipe").unwrap().mode, Mode::Pipe);
        // Options may follow the file; the words after them are keys and arguments.
        let o = p("--eval s.lua -p 7000 k , a").unwrap();
        assert_eq!((o.mode, o.port), (Mode::Eval("s.lua".into()), 7000));
        assert_eq!(o.command, vec![b"k".to_vec(), b",".to_vec(), b"a".to_vec()]);
        assert_eq!(p("").unwrap().mode, Mode::Interactive);
        assert!(p("-c get k").unwrap().cluster && !p("get k").unwrap().cluster);
    }
}
