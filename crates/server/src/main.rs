//! `redis-lite-server [/path/to/redis.conf] [--directive value ...]`

// jemalloc: fast for many small allocations, and its statistics give an exact `used_memory`;
// counted on the way, so `maxmemory` can be checked before every write (see `memory`).
#[global_allocator]
static GLOBAL: redis_lite_server::memory::CountingJemalloc =
    redis_lite_server::memory::CountingJemalloc;

fn main() {
    // Every argument is copied here: once the process title is set, the memory std::env::args
    // reads holds the title instead (see `proctitle`).
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "redis-lite-server".into());
    let args: Vec<String> = argv.collect();
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!("{}", redis_lite_server::build_info::version_line());
            return;
        }
        Some("-h" | "--help") => {
            print!("{}", redis_lite_server::build_info::help_text(&argv0));
            return;
        }
        _ => {}
    }
    let mut startup = match redis_lite_server::config::from_args(&args) {
        Ok(startup) => startup,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Before anything looks a command up.
    if let Err(e) = startup.install_commands() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    // Before any thread exists: a daemon forks here.
    redis_lite_server::process::prepare(&mut startup.config);
    redis_lite_server::process::install_crash_log();
    // Hides the command line (a `--requirepass` among it) from `ps`, as Redis does.
    redis_lite_server::proctitle::apply(
        Some(&argv0),
        &startup.config,
        startup.config_file.as_deref(),
    );
    if let Err(e) = redis_lite_server::server::run(startup) {
        eprintln!("redis-lite-server: {e}");
        std::process::exit(1);
    }
}
