//! The tool modes: `--pipe`, `--scan`, `--bigkeys`/`--memkeys`, `--stat`, `--latency` and
//! `--rdb`, each printing what redis-cli prints. Each returns the process exit code.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use redis_lite_protocol::Response;

use crate::args::{Options, Output};
use crate::conn::{args, encode, plain_error, Connection};
use crate::format::repr;

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("{msg}");
    1
}

/// 20 random hex characters: the ECHO payload that marks the end of a `--pipe` stream.
fn magic() -> Vec<u8> {
    let mut bytes = [0u8; 10];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..10]);
    }
    bytes
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

/// Mass insertion: stdin goes to the server as is while replies are counted on this thread.
/// After stdin ends, an `ECHO <magic>` is sent; its reply means every reply has arrived.
pub fn pipe(conn: Connection, o: &Options) -> i32 {
    let mut reader = conn;
    let mut writer = match reader.stream.try_clone() {
        Ok(s) => s,
        Err(e) => return fail(format!("Error: {}", plain_error(&e))),
    };
    let magic = magic();
    let echo = {
        let mut out = Vec::new();
        encode(&mut out, &[b"ECHO".to_vec(), magic.clone()]);
        out
    };
    let sender = std::thread::spawn(move || -> io::Result<()> {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdin.read(&mut buf)?;
            if n == 0 {
                break;
            }
            writer.write_all(&buf[..n])?;
        }
        println!("All data transferred. Waiting for the last reply...");
        writer.write_all(&echo)
    });
    let timeout = (o.pipe_timeout > 0).then(|| Duration::from_secs(o.pipe_timeout));
    if reader.stream.set_read_timeout(timeout).is_err() {
        return fail("Error: cannot set the read timeout");
    }
    let (mut errors, mut replies) = (0u64, 0u64);
    let outcome = loop {
        match reader.read_reply() {
            Ok(Response::Bulk(b)) if b == magic => break Ok(()),
            Ok(reply) => {
                replies += 1;
                if let Response::Error(e) = reply {
                    errors += 1;
                    eprintln!("{}", String::from_utf8_lossy(&e));
                }
            }
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(()) => {
            if let Ok(Err(e)) = sender.join() {
                return fail(format!("Error writing to the server: {}", plain_error(&e)));
            }
            println!("Last reply received from server.");
            println!("errors: {errors}, replies: {replies}");
            i32::from(errors > 0)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            fail(format!(
                "No replies for {} seconds: exiting.",
                o.pipe_timeout
            ))
        }
        Err(e) => fail(format!(
            "Error reading from the server: {}",
            plain_error(&e)
        )),
    }
}

/// One SCAN call: the next cursor and the keys.
fn scan_step(
    conn: &mut Connection,
    cursor: &[u8],
    o: &Options,
) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    let mut cmd = vec![b"SCAN".to_vec(), cursor.to_vec()];
    if let Some(p) = &o.pattern {
        cmd.extend([b"MATCH".to_vec(), p.as_bytes().to_vec()]);
    }
    if let Some(n) = o.count {
        cmd.extend([b"COUNT".to_vec(), n.to_string().into_bytes()]);
    }
    match conn
        .command(&cmd)
        .map_err(|e| format!("I/O error: {}", plain_error(&e)))?
    {
        Response::Array(mut parts) if parts.len() == 2 => {
            let keys = match parts.pop() {
                Some(Response::Array(keys)) => keys
                    .into_iter()
                    .filter_map(|k| match k {
                        Response::Bulk(k) => Some(k),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            match parts.pop() {
                Some(Response::Bulk(c)) => Ok((c, keys)),
                _ => Err("Error: SCAN returned an unexpected reply".into()),
            }
        }
        Response::Error(e) => Err(format!("Error: {}", String::from_utf8_lossy(&e))),
        _ => Err("Error: SCAN returned an unexpected reply".into()),
    }
}

pub fn scan(mut conn: Connection, o: &Options) -> i32 {
    let mut cursor = b"0".to_vec();
    let mut out = io::stdout().lock();
    loop {
        let (next, keys) = match scan_step(&mut conn, &cursor, o) {
            Ok(step) => step,
            Err(e) => return fail(e),
        };
        for key in keys {
            let mut line = Vec::new();
            match o.output {
                Output::Standard => repr(&mut line, &key),
                Output::Raw => line.extend_from_slice(&key),
            }
            line.push(b'\n');
            if out.write_all(&line).is_err() {
                return 1;
            }
        }
        if next == b"0" {
            return 0;
        }
        cursor = next;
    }
}

/// What `--bigkeys` knows about a type: how to size a key and the unit it counts in.
struct TypeInfo {
    name: &'static str,
    size_cmd: &'static str,
    unit: &'static str,
    biggest: u64,
    biggest_key: Option<String>,
    count: u64,
    total: u64,
}

/// redis-cli keeps its types in a hash table and prints them in that table's order; this is
/// that order, so the summaries match line for line.
const TYPES: [(&str, &str, &str); 6] = [
    ("list", "LLEN", "items"),
    ("hash", "HLEN", "fields"),
    ("string", "STRLEN", "bytes"),
    ("stream", "XLEN", "entries"),
    ("set", "SCARD", "members"),
    ("zset", "ZCARD", "members"),
];

/// Sends every command of a batch, then reads the replies in order.
fn pipeline(conn: &mut Connection, cmds: &[Vec<Vec<u8>>]) -> io::Result<Vec<Response>> {
    let mut out = Vec::new();
    for c in cmds {
        encode(&mut out, c);
    }
    conn.stream.write_all(&out)?;
    cmds.iter().map(|_| conn.read_reply()).collect()
}

/// `--bigkeys` (element counts) and `--memkeys` (MEMORY USAGE bytes).
pub fn big_keys(mut conn: Connection, o: &Options, memkeys: bool) -> i32 {
    if memkeys {
        // Ask once up front: a server without MEMORY USAGE would otherwise warn for every key.
        match conn.command(&args(&["MEMORY", "USAGE", "__redis-lite-cli-probe__"])) {
            Ok(Response::Error(e)) => {
                return fail(format!(
                    "Error: --memkeys needs MEMORY USAGE, which this server does not support ({})",
                    String::from_utf8_lossy(&e)
                ))
            }
            Err(e) => return fail(format!("I/O error: {}", plain_error(&e))),
            Ok(_) => {}
        }
    }
    let total_keys = match conn.command(&args(&["DBSIZE"])) {
        Ok(Response::Integer(n)) => n.max(0) as u64,
        Ok(Response::Error(e)) => {
            return fail(format!(
                "Couldn't determine DBSIZE: {}",
                String::from_utf8_lossy(&e)
            ))
        }
        Ok(_) => return fail("Non-integer reply from DBSIZE"),
        Err(e) => return fail(format!("I/O error: {}", plain_error(&e))),
    };
    let mut types: Vec<TypeInfo> = TYPES
        .iter()
        .map(|&(name, size_cmd, unit)| TypeInfo {
            name,
            size_cmd,
            unit: if memkeys { "bytes" } else { unit },
            biggest: 0,
            biggest_key: None,
            count: 0,
            total: 0,
        })
        .collect();
    let index: HashMap<&str, usize> = TYPES.iter().enumerate().map(|(i, t)| (t.0, i)).collect();
    let mut out = String::new();
    out.push_str("\n# Scanning the entire keyspace to find biggest keys as well as\n");
    out.push_str("# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n");
    out.push_str("# per 100 SCAN commands (not usually needed).\n\n");
    print!("{out}");
    let (mut sampled, mut total_len) = (0u64, 0u64);
    let mut cursor = b"0".to_vec();
    loop {
        let pct = if total_keys == 0 {
            0.0
        } else {
            100.0 * sampled as f64 / total_keys as f64
        };
        let (next, keys) = match scan_step(&mut conn, &cursor, o) {
            Ok(step) => step,
            Err(e) => return fail(e),
        };
        let type_cmds: Vec<_> = keys
            .iter()
            .map(|k| vec![b"TYPE".to_vec(), k.clone()])
            .collect();
        let kinds = match pipeline(&mut conn, &type_cmds) {
            Ok(r) => r,
            Err(e) => return fail(format!("I/O error: {}", plain_error(&e))),
        };
        let mut known = Vec::new();
        for (key, kind) in keys.iter().zip(kinds) {
            match kind {
                Response::Status(t) => {
                    if let Some(&i) = index.get(String::from_utf8_lossy(&t).as_ref()) {
                        known.push((key.clone(), i));
                    }
                }
                Response::Error(e) => {
                    return fail(format!(
                        "TYPE returned an error: {}",
                        String::from_utf8_lossy(&e)
                    ))
                }
                _ => {}
            }
        }
        let size_cmds: Vec<_> = known
            .iter()
            .map(|(k, i)| {
                if memkeys {
                    vec![
                        b"MEMORY".to_vec(),
                        b"USAGE".to_vec(),
                        k.clone(),
                        b"SAMPLES".to_vec(),
                        b"0".to_vec(),
                    ]
                } else {
                    vec![types[*i].size_cmd.as_bytes().to_vec(), k.clone()]
                }
            })
            .collect();
        let sizes = match pipeline(&mut conn, &size_cmds) {
            Ok(r) => r,
            Err(e) => return fail(format!("I/O error: {}", plain_error(&e))),
        };
        for ((key, i), size) in known.iter().zip(sizes) {
            let size = match size {
                Response::Integer(n) => n.max(0) as u64,
                _ => {
                    let cmd = if memkeys {
                        "MEMORY USAGE"
                    } else {
                        types[*i].size_cmd
                    };
                    eprintln!(
                        "Warning:  {cmd} on '{}' failed (may have changed type)",
                        String::from_utf8_lossy(key)
                    );
                    0
                }
            };
            let t = &mut types[*i];
            t.total += size;
            t.count += 1;
            total_len += key.len() as u64;
            sampled += 1;
            if t.biggest < size {
                let mut quoted = Vec::new();
                repr(&mut quoted, key);
                let quoted = String::from_utf8_lossy(&quoted).into_owned();
                println!(
                    "[{pct:05.2}%] Biggest {:<6} found so far '{quoted}' with {size} {}",
                    t.name, t.unit
                );
                t.biggest_key = Some(quoted);
                t.biggest = size;
            }
            if sampled % 1_000_000 == 0 {
                println!("[{pct:05.2}%] Sampled {sampled} keys so far");
            }
        }
        if sampled > 0 && sampled % 100 == 0 && o.interval > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(o.interval));
        }
        if next == b"0" {
            break;
        }
        cursor = next;
    }
    println!("\n-------- summary -------\n");
    println!("Sampled {sampled} keys in the keyspace!");
    let avg = if total_len > 0 {
        total_len as f64 / sampled as f64
    } else {
        0.0
    };
    println!("Total key length in bytes is {total_len} (avg len {avg:.2})\n");
    for t in &types {
        if let Some(key) = &t.biggest_key {
            println!(
                "Biggest {:>6} found '{key}' has {} {}",
                t.name, t.biggest, t.unit
            );
        }
    }
    println!();
    for t in &types {
        let share = if sampled > 0 {
            100.0 * t.count as f64 / sampled as f64
        } else {
            0.0
        };
        let avg = if t.count > 0 {
            t.total as f64 / t.count as f64
        } else {
            0.0
        };
        println!(
            "{} {}s with {} {} ({share:05.2}% of keys, avg size {avg:.2})",
            t.count, t.name, t.total, t.unit
        );
    }
    0
}

/// redis-cli's `bytesToHuman`: `512B`, `1.50K`, `2.00M`...
fn human_bytes(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let n = n.unsigned_abs() as f64;
    let units = ["K", "M", "G", "T", "P"];
    if n < 1024.0 {
        return format!("{sign}{n}B");
    }
    let mut d = n / 1024.0;
    for unit in units {
        if d < 1024.0 || unit == "P" {
            return format!("{sign}{d:.2}{unit}");
        }
        d /= 1024.0;
    }
    unreachable!("the loop returns at P")
}

/// An integer field of an INFO reply.
fn info_field(info: &str, name: &str) -> Option<i64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

fn info(conn: &mut Connection) -> Result<String, String> {
    match conn.command(&args(&["INFO"])) {
        Ok(Response::Bulk(b) | Response::Verbatim { text: b, .. }) => {
            Ok(String::from_utf8_lossy(&b).into_owned())
        }
        Ok(Response::Error(e)) => Err(format!("ERROR: {}", String::from_utf8_lossy(&e))),
        Ok(_) => Err("ERROR: unexpected INFO reply".into()),
        Err(_) => Err("\nI/O error".into()),
    }
}

/// `--stat`: one line of totals per interval (default one second), a header every 20 lines.
pub fn stat(mut conn: Connection, o: &Options) -> i32 {
    let interval = Duration::from_secs_f64(if o.interval > 0.0 { o.interval } else { 1.0 });
    let mut requests: Option<i64> = None;
    for i in 0u64.. {
        let info = match info(&mut conn) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let mut line = String::new();
        if i % 20 == 0 {
            line.push_str(
                "------- data ------ --------------------- load -------------------- - child -\n",
            );
            line.push_str(
                "keys       mem      clients blocked requests            connections          \n",
            );
        }
        // Keyspace lines read `db0:keys=1,expires=0,avg_ttl=0`.
        let keys: i64 = info
            .lines()
            .filter_map(|l| {
                l.strip_prefix("db")?
                    .split_once(":keys=")?
                    .1
                    .split(',')
                    .next()?
                    .parse::<i64>()
                    .ok()
            })
            .sum();
        let field = |n| info_field(&info, n).unwrap_or(0);
        line.push_str(&format!("{:<11}", keys));
        line.push_str(&format!("{:<8}", human_bytes(field("used_memory"))));
        line.push_str(&format!(" {:<8}", field("connected_clients")));
        line.push_str(&format!("{:<8}", field("blocked_clients")));
        let total = field("total_commands_processed");
        let delta = requests.map_or(0, |r| total - r);
        requests = Some(total);
        line.push_str(&format!("{:<19}", format!("{total} (+{delta})")));
        line.push_str(&format!(" {:<12}", field("total_connections_received")));
        let children = field("rdb_bgsave_in_progress")
            | field("aof_rewrite_in_progress") << 1
            | field("loading") << 2;
        line.push_str(match children {
            1 => "SAVE",
            2 => "AOF",
            3 => "SAVE+AOF",
            4 => "LOAD",
            _ => "",
        });
        println!("{line}");
        std::thread::sleep(interval);
    }
    0
}

/// `--latency`: PING round trips in milliseconds. On a terminal the line is redrawn live
/// forever; otherwise one line is printed after the interval (default one second).
pub fn latency(mut conn: Connection, o: &Options) -> i32 {
    let window = Duration::from_secs_f64(if o.interval > 0.0 { o.interval } else { 1.0 });
    let started = Instant::now();
    let (mut min, mut max, mut total, mut count) = (0u64, 0u64, 0u64, 0u64);
    loop {
        let t = Instant::now();
        if conn.command(&args(&["PING"])).is_err() {
            return fail("\nI/O error");
        }
        let ms = t.elapsed().as_millis() as u64;
        count += 1;
        if count == 1 {
            (min, max, total) = (ms, ms, ms);
        } else {
            min = min.min(ms);
            max = max.max(ms);
            total += ms;
        }
        let avg = total as f64 / count as f64;
        match o.output {
            Output::Standard => {
                print!("\x1b[0G\x1b[2Kmin: {min}, max: {max}, avg: {avg:.2} ({count} samples)");
                let _ = io::stdout().flush();
            }
            Output::Raw => {
                if started.elapsed() > window {
                    println!("{min} {max} {avg:.2} {count}");
                    return 0;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--rdb <file>`: asks for a snapshot over the replication protocol (SYNC) and saves it;
/// `--functions-rdb`, `functions_only`, for one with the functions alone. Handles both the
/// `$<len>` form and the diskless `$EOF:<mark>` form.
pub fn rdb(mut conn: Connection, path: &str, functions_only: bool) -> i32 {
    // What redis-cli 7.0 tells the server first: it reads a diskless transfer, wants only the
    // snapshot (not the command stream after it) and, maybe, only the functions in it.
    let mut replconfs = vec![("capa", "eof"), ("rdb-only", "1")];
    if functions_only {
        replconfs.push(("rdb-filter-only", "functions"));
    }
    for (option, value) in replconfs {
        eprintln!("sending REPLCONF {option} {value}");
        match conn.command(&args(&["REPLCONF", option, value])) {
            // Not fatal, as for redis-cli: an older server may not know the option.
            Ok(Response::Error(e)) => {
                eprintln!("REPLCONF {option} error: {}", String::from_utf8_lossy(&e))
            }
            Ok(_) => {}
            Err(_) => return fail("\nI/O error"),
        }
    }
    if let Err(e) = conn.stream.write_all(b"SYNC\r\n") {
        return fail(format!("Error writing to master: {}", plain_error(&e)));
    }
    let mut pending = conn.take_buffered();
    // The header line, after any keep-alive newlines the master sends while it prepares.
    let header = loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if line.is_empty() {
                continue;
            }
            break line;
        }
        let mut buf = [0u8; 16 * 1024];
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                return fail(
                    "Error reading bulk length while SYNCing: the server closed the connection",
                )
            }
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => {
                return fail(format!(
                    "Error reading bulk length while SYNCing: {}",
                    plain_error(&e)
                ))
            }
        }
    };
    if let Some(err) = header.strip_prefix('-') {
        return fail(format!("SYNC with master failed: {err}"));
    }
    let Some(len) = header.strip_prefix('$') else {
        return fail(format!(
            "SYNC with master failed: unexpected reply '{header}'"
        ));
    };
    let (eof_mark, mut left) = match len.strip_prefix("EOF:") {
        Some(mark) => (Some(mark.as_bytes().to_vec()), u64::MAX),
        None => match len.parse::<u64>() {
            Ok(n) => (None, n),
            Err(_) => return fail(format!("SYNC with master failed: bad length '{len}'")),
        },
    };
    match &eof_mark {
        Some(_) => eprintln!(
            "SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{path}'"
        ),
        None => eprintln!("SYNC sent to master, writing {left} bytes to '{path}'"),
    }
    let mut file = match std::fs::File::create(path) {
        Ok(f) => f,
        Err(e) => return fail(format!("Error opening '{path}': {}", plain_error(&e))),
    };
    let mut data = pending;
    let mut tail: Vec<u8> = Vec::new();
    let mut written = 0u64;
    let mut write = |bytes: &[u8]| {
        written += bytes.len() as u64;
        file.write_all(bytes)
    };
    loop {
        let take = (data.len() as u64).min(left) as usize;
        let chunk = &data[..take];
        if let Some(mark) = &eof_mark {
            tail.extend_from_slice(chunk);
            if tail.ends_with(mark) {
                tail.truncate(tail.len() - mark.len());
                if write(&tail).is_err() {
                    return fail("Error writing data to file");
                }
                break;
            }
            // Keep only what could still be the start of the marker.
            let keep = tail.len().saturating_sub(mark.len());
            if write(&tail[..keep]).is_err() {
                return fail("Error writing data to file");
            }
            tail.drain(..keep);
        } else {
            if write(chunk).is_err() {
                return fail("Error writing data to file");
            }
            left -= take as u64;
            if left == 0 {
                break;
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                return fail("I/O Error during bulk transfer: the server closed the connection")
            }
            Ok(n) => data = buf[..n].to_vec(),
            Err(e) => {
                return fail(format!(
                    "I/O Error during bulk transfer: {}",
                    plain_error(&e)
                ))
            }
        }
    }
    if let Err(e) = file.sync_all() {
        return fail(format!("Fail to fsync '{path}': {}", plain_error(&e)));
    }
    match eof_mark {
        Some(_) => eprintln!("Transfer finished with success after {written} bytes"),
        None => eprintln!("Transfer finished with success."),
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_matches_redis_cli() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(2 * 1024 * 1024), "2.00M");
        assert_eq!(human_bytes(-2048), "-2.00K");
    }

    #[test]
    fn info_fields() {
        let info = "# Clients\r\nconnected_clients:3\r\nblocked_clients:0\r\n";
        assert_eq!(info_field(info, "connected_clients"), Some(3));
        assert_eq!(info_field(info, "connected"), None);
    }

    #[test]
    fn magic_is_twenty_hex_characters() {
        let m = magic();
        assert_eq!(m.len(), 20);
        assert!(m.iter().all(u8::is_ascii_hexdigit));
    }
}
