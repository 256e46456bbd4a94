//! The server's program: `redis-lite-server [/path/to/redis.conf] [--directive value ...]`,
//! `--version` and `--help`. Shared by the `redis-lite-server` binary and the multi-call
//! `redis-lite` binary of the container image (crates/dist), which set the global allocator.

/// Runs the server (or prints the version or help) from the process's arguments.
pub fn main() {
    // Every argument is copied here: once the process title is set, the memory std::env::args
    // reads holds the title instead (see `proctitle`).
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "redis-lite-server".into());
    let args: Vec<String> = argv.collect();
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!("{}", crate::build_info::version_line());
            return;
        }
        Some("-h" | "--help") => {
            print!("{}", crate::build_info::help_text(&argv0));
            return;
        }
        _ => {}
    }
    let mut startup = match crate::config::from_args(&args) {
        Ok(startup) => startup,
        Err(e) => {
            e.report();
            std::process::exit(1);
        }
    };
    // Before anything looks a command up.
    if let Err(e) = startup.install_commands() {
        e.report();
        std::process::exit(1);
    }
    // Before any thread exists: a daemon forks here.
    crate::process::prepare(&mut startup.config);
    crate::process::install_crash_log();
    // Hides the command line (a `--requirepass` among it) from `ps`, as Redis does.
    crate::proctitle::apply(
        Some(&argv0),
        &startup.config,
        startup.config_file.as_deref(),
    );
    if let Err(e) = crate::server::run(startup) {
        // Redis writes why it stops to its log: with a log file, nothing goes to standard
        // error (the cluster suite reads any output there as a crash report).
        match crate::log::to_file() {
            true => crate::log!(Warning, "{e}"),
            false => eprintln!("redis-lite-server: {e}"),
        }
        std::process::exit(1);
    }
}
