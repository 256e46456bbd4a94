//! The host boundary without a server: kills through the interrupt hook, and what
//! `redis.log`, `redis.set_repl` and `redis.acl_check_cmd` hand the host. The texts are the
//! ones real Redis 7.0.15 gives (see the differential tests for everything it can compare
//! directly).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use redis_lite_scripting::{
    AclCheck, FunctionLibraries, Host, Interrupt, LogLevel, Protocol, ReplFlags, RestorePolicy,
    ScriptCache, RANDOM_INITIAL_STATE,
};

#[derive(Default)]
struct RecordingHost {
    /// Interrupt checks answered `Continue` before `Kill`; `None` never kills.
    kill_after: Option<usize>,
    checks: usize,
    calls: Vec<Vec<Vec<u8>>>,
    logged: Vec<(LogLevel, Vec<u8>)>,
    repl: Vec<ReplFlags>,
    /// What every command replies; `+OK` when None.
    reply: Option<Vec<u8>>,
    /// Commands panic instead of replying.
    panics: bool,
    /// The interrupt check panics (as a suspended fiber's stack does when it is unwound).
    interrupt_panics: bool,
}

impl Host for RecordingHost {
    fn call(&mut self, argv: &[&[u8]], _protocol: Protocol, reply: &mut Vec<u8>) {
        self.calls.push(argv.iter().map(|a| a.to_vec()).collect());
        assert!(!self.panics, "the command panics");
        reply.extend_from_slice(self.reply.as_deref().unwrap_or(b"+OK\r\n"));
    }
    fn log(&mut self, level: LogLevel, message: &[u8]) {
        self.logged.push((level, message.to_vec()));
    }
    fn set_repl(&mut self, flags: ReplFlags) {
        self.repl.push(flags);
    }
    fn acl_check(&mut self, argv: &[&[u8]]) -> AclCheck {
        match argv[0] {
            b"get" => AclCheck::Allowed,
            b"set" => AclCheck::Denied,
            _ => AclCheck::UnknownCommand,
        }
    }
    fn interrupt(&mut self) -> Interrupt {
        self.checks += 1;
        assert!(!self.interrupt_panics, "the interrupt check panics");
        match self.kill_after {
            Some(n) if self.checks > n => Interrupt::Kill,
            _ => Interrupt::Continue,
        }
    }
}

fn eval(host: &mut RecordingHost, script: &str) -> String {
    let mut cache = ScriptCache::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let sha = cache.load(script.as_bytes()).unwrap();
    let reply = cache
        .run(host, sha.as_bytes(), &[], &[], Protocol::Resp2)
        .unwrap();
    String::from_utf8(reply.bytes).unwrap()
}

/// Arrays of integers and bulk strings come back from a script as they went in, whether
/// `redis.call` pushes them onto Lua's stack itself (up to 8 levels deep) or hands them to
/// the general conversion (deeper).
#[test]
fn nested_replies_convert_alike_on_both_paths() {
    for depth in [1, 3, 8, 9, 12] {
        let mut reply = b"*2\r\n:-7\r\n$3\r\na\r\n\r\n".to_vec();
        for _ in 1..depth {
            reply = [&b"*3\r\n$0\r\n\r\n"[..], &reply, b":42\r\n"].concat();
        }
        let mut host = RecordingHost {
            reply: Some(reply.clone()),
            ..Default::default()
        };
        assert_eq!(
            eval(&mut host, "return redis.call('get', 'k')").as_bytes(),
            &reply[..],
            "{depth} levels"
        );
    }
}

#[test]
fn a_command_panicking_in_a_script_panics_the_caller_after_the_run() {
    let mut host = RecordingHost {
        panics: true,
        ..Default::default()
    };
    let mut cache = ScriptCache::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let sha = cache.load(b"return redis.pcall('get', 'k')").unwrap();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.run(&mut host, sha.as_bytes(), &[], &[], Protocol::Resp2)
    }));
    assert!(run.is_err(), "the panic goes on once the run has left Lua");
    // The state is still usable.
    host.panics = false;
    let reply = cache
        .run(&mut host, sha.as_bytes(), &[], &[], Protocol::Resp2)
        .unwrap();
    assert_eq!(reply.bytes, b"+OK\r\n");
}

/// A panic out of the interrupt check stops the script for good: no `pcall` swallows it, the
/// script serves no further command, and the panic goes on once the run has left Lua.
#[test]
fn a_panic_in_the_interrupt_check_ends_the_run_and_goes_on() {
    let mut host = RecordingHost {
        interrupt_panics: true,
        ..Default::default()
    };
    let mut cache = ScriptCache::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let script =
        "for i = 1, 3 do\n  pcall(function() local x = 0 while true do x = x + 1 end end)\n  \
                  redis.call('set', 'k', i)\nend\nreturn 1";
    let sha = cache.load(script.as_bytes()).unwrap();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.run(&mut host, sha.as_bytes(), &[], &[], Protocol::Resp2)
    }));
    assert!(run.is_err(), "the panic goes on once the run has left Lua");
    assert_eq!(host.checks, 1, "the host is not asked again");
    assert!(host.calls.is_empty(), "no command ran after the panic");
    // The state is still usable, and no longer in the killed mode.
    host.interrupt_panics = false;
    assert_eq!(eval(&mut host, "return redis.call('get', 'k')"), "+OK\r\n");
}

#[test]
fn a_killed_script_fails_with_redis_text_at_its_line() {
    let mut host = RecordingHost {
        kill_after: Some(3),
        ..Default::default()
    };
    let script = "local x = 0\nwhile true do x = x + 1 end";
    let sha = redis_lite_scripting::sha1_hex(script.as_bytes());
    assert_eq!(
        eval(&mut host, script),
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:2.\r\n"
        )
    );
    assert_eq!(host.checks, 4, "the hook asks the host until it says kill");
}

#[test]
fn a_script_looping_in_a_coroutine_can_be_killed() {
    let mut host = RecordingHost {
        kill_after: Some(1),
        ..Default::default()
    };
    let reply = eval(
        &mut host,
        "return coroutine.wrap(function()\nwhile true do end\nend)()",
    );
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{reply}"
    );
}

#[test]
fn pcall_can_catch_a_kill_as_in_redis() {
    let mut host = RecordingHost {
        kill_after: Some(0),
        ..Default::default()
    };
    let reply = eval(
        &mut host,
        "local ok = pcall(function() while true do end end) return 'caught'",
    );
    assert_eq!(reply, "$6\r\ncaught\r\n");
}

#[test]
fn a_killed_function_names_itself() {
    let mut host = RecordingHost::default();
    let mut libraries = FunctionLibraries::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    libraries
        .load(
            &mut host,
            b"#!lua name=lib\nredis.register_function('spin', function() while true do end end)",
            false,
        )
        .unwrap();
    host.kill_after = Some(1);
    let reply = libraries
        .call(&mut host, "spin", &[], &[], Protocol::Resp2)
        .unwrap();
    assert_eq!(
        String::from_utf8(reply.bytes).unwrap(),
        "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    );
}

#[test]
fn a_script_that_ends_is_not_interrupted() {
    let mut host = RecordingHost {
        kill_after: Some(0),
        ..Default::default()
    };
    assert_eq!(
        eval(&mut host, "return redis.call('set', 'k', 1.5)"),
        "+OK\r\n"
    );
    assert_eq!(host.checks, 0);
    assert_eq!(
        host.calls,
        vec![vec![b"set".to_vec(), b"k".to_vec(), b"1.5".to_vec()]]
    );
}

#[test]
fn log_set_repl_and_acl_checks_reach_the_host() {
    let mut host = RecordingHost::default();
    let reply = eval(
        &mut host,
        "redis.log(redis.LOG_NOTICE, 'a', 1, {}, 'b')\n\
         redis.log(redis.LOG_DEBUG, 'quiet')\n\
         redis.set_repl(redis.REPL_AOF)\n\
         redis.set_repl(redis.REPL_NONE)\n\
         return {redis.acl_check_cmd('get', 'k'), redis.acl_check_cmd('set', 'k', 'v')}",
    );
    assert_eq!(reply, "*2\r\n:1\r\n$-1\r\n");
    assert_eq!(
        host.logged,
        vec![
            (LogLevel::Notice, b"a 1 b".to_vec()),
            (LogLevel::Debug, b"quiet".to_vec())
        ]
    );
    assert_eq!(
        host.repl,
        vec![
            ReplFlags {
                aof: true,
                replica: false
            },
            ReplFlags {
                aof: false,
                replica: false
            }
        ]
    );
    let script = "return redis.acl_check_cmd('nosuch')";
    let sha = redis_lite_scripting::sha1_hex(script.as_bytes());
    assert_eq!(
        eval(&mut host, script),
        format!("-ERR Invalid command passed to redis.acl_check_cmd() script: {sha}, on @user_script:1.\r\n")
    );
}

#[test]
fn redis_call_is_refused_while_a_library_loads() {
    let mut host = RecordingHost::default();
    let mut libraries = FunctionLibraries::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let code = b"#!lua name=lib\nlocal call = redis.call\nredis.register_function('f', function() return 1 end)";
    assert_eq!(
        libraries.load(&mut host, code, false).unwrap_err(),
        "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
    );
    assert!(host.calls.is_empty());
}

#[test]
fn restore_policies_behave_as_redis() {
    // Texts from real Redis 7.0.15's FUNCTION RESTORE with a dump of lib1 and lib2.
    let lib1 = b"#!lua name=lib1\nredis.register_function('f1', function() return 1 end)".to_vec();
    let lib2 = b"#!lua name=lib2\nredis.register_function('f2', function() return 2 end)".to_vec();
    let other = b"#!lua name=other\nredis.register_function('f2', function() return 2 end)";
    let dump = [lib2.clone(), lib1.clone()];
    let mut host = RecordingHost::default();
    let mut libraries = FunctionLibraries::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let names = |l: &FunctionLibraries| l.libraries().map(|l| l.name.clone()).collect::<Vec<_>>();

    libraries.load(&mut host, &lib1, false).unwrap();
    assert_eq!(
        libraries
            .restore(&mut host, &dump, RestorePolicy::Append)
            .unwrap_err(),
        "ERR Library lib1 already exists"
    );
    assert_eq!(
        names(&libraries),
        ["lib1"],
        "a failed restore changes nothing"
    );

    libraries.flush();
    libraries.load(&mut host, other, false).unwrap();
    for policy in [RestorePolicy::Append, RestorePolicy::Replace] {
        assert_eq!(
            libraries.restore(&mut host, &dump, policy).unwrap_err(),
            "ERR Function f2 already exists"
        );
    }
    libraries
        .restore(&mut host, &dump, RestorePolicy::Flush)
        .unwrap();
    assert_eq!(names(&libraries), ["lib1", "lib2"]);

    libraries.flush();
    libraries
        .load(
            &mut host,
            b"#!lua name=lib1\nredis.register_function('g', function() return 2 end)",
            false,
        )
        .unwrap();
    libraries
        .restore(&mut host, &dump, RestorePolicy::Replace)
        .unwrap();
    assert!(libraries.function("g").is_none());
    assert_eq!(
        libraries
            .call(&mut host, "f1", &[], &[], Protocol::Resp2)
            .unwrap()
            .bytes,
        b":1\r\n"
    );
}
